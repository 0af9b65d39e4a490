//! Static files of the browser client, served from the assets folder.

use std::path::{Component, Path, PathBuf};

/// A file to send, with its content type.
pub struct Asset {
    pub body: Vec<u8>,
    pub content_type: &'static str,
}

/// Map a URL path to a file under `root`; `None` for anything outside it or missing.
pub async fn load(root: &Path, url_path: &str) -> Option<Asset> {
    let relative = if url_path == "/" { "index.html" } else { url_path.trim_start_matches('/') };
    let path = safe_join(root, relative)?;
    let body = tokio::fs::read(&path).await.ok()?;
    Some(Asset { body, content_type: content_type(&path) })
}

/// Join without ever leaving `root`: only plain path components are allowed.
fn safe_join(root: &Path, relative: &str) -> Option<PathBuf> {
    let relative = Path::new(relative);
    if relative.components().all(|c| matches!(c, Component::Normal(_))) { Some(root.join(relative)) } else { None }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "toml" | "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_leaves_the_root() {
        let root = Path::new("/srv/assets");
        assert_eq!(safe_join(root, "main.js"), Some(PathBuf::from("/srv/assets/main.js")));
        assert_eq!(safe_join(root, "../secret"), None);
        assert_eq!(safe_join(root, "a/../../b"), None);
        assert_eq!(safe_join(root, "/etc/passwd"), None);
    }
}
