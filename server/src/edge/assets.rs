//! Static files of the browser client: which files are served (from --assets-dir or
//! the copy built into the binary), and the headers (content type, CSP, nosniff) every
//! one of them carries.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
use hyper::{Response, StatusCode};

use crate::web::Body;

/// The page that names the client's packages in its import map.
const INDEX: &str = "index.html";

/// Where the client's npm packages are installed (`npm ci` in the assets folder).
const PACKAGES: &str = "node_modules";

/// File types of the client's own files, at the top of the assets folder. Anything
/// else there (`package.json`, `settings.toml`, …) is the server's or npm's business.
const CLIENT_TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("ico", "image/x-icon"),
];

/// File types served from the packages: the modules themselves and their style sheets
/// (a page links them), not their manifests, sources, type declarations or source maps.
const PACKAGE_TYPES: &[(&str, &str)] = &[
    ("mjs", "text/javascript; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
];

/// The policy every static response carries, before the hashes of a page's inline
/// scripts are added to `script-src`. `connect-src` names `ws:`/`wss:` because older
/// browsers do not count the page's own host under `'self'` for WebSockets; `img-src`
/// allows `data:` for canvas snapshots and icons.
const POLICY: [&str; 11] = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self' ws: wss:",
    "manifest-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
];

/// The client as `server/build.rs` copied it from `assets/`: its own files,
/// `settings.toml`, and the package modules its import map names (if installed).
static BUILT_IN: include_dir::Dir<'static> = include_dir::include_dir!("$OUT_DIR/client");

/// Where the client's files come from.
#[derive(Clone, Debug)]
pub enum Assets {
    /// `--assets-dir`: read at every request, so an edited file shows on reload.
    Folder(PathBuf),
    /// The copy built into the binary, so an installed binary serves a working client
    /// wherever it runs from.
    BuiltIn,
}

impl Assets {
    /// The folder when one is given, else the built-in copy.
    pub fn new(folder: Option<PathBuf>) -> Assets {
        folder.map_or(Assets::BuiltIn, Assets::Folder)
    }

    /// The built-in copy of `assets/settings.toml`, if the build found one.
    pub fn built_in_settings() -> Option<&'static str> {
        BUILT_IN.get_file("settings.toml").and_then(|f| f.contents_utf8())
    }

    /// One file by its checked relative name.
    async fn read(&self, relative: &str) -> Option<Bytes> {
        match self {
            Assets::Folder(root) => tokio::fs::read(safe_join(root, relative)?).await.ok().map(Bytes::from),
            Assets::BuiltIn => BUILT_IN.get_file(relative).map(|f| Bytes::from_static(f.contents())),
        }
    }

    /// Every top-level page (`*.html`), whose import maps name the packages served.
    async fn pages(&self) -> Vec<Bytes> {
        let names: Vec<String> = match self {
            Assets::Folder(root) => {
                let mut names = Vec::new();
                if let Ok(mut entries) = tokio::fs::read_dir(root).await {
                    while let Ok(Some(entry)) = entries.next_entry().await {
                        names.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
                names
            }
            Assets::BuiltIn => BUILT_IN.files().map(|f| f.path().to_string_lossy().into_owned()).collect(),
        };
        let mut pages = Vec::new();
        for name in names.iter().filter(|n| n.ends_with(".html") && classify(n).is_some()) {
            pages.extend(self.read(name).await);
        }
        pages
    }

    /// The package modules `page`'s import map names that are not there.
    async fn missing_imports(&self, page: &str) -> Vec<String> {
        let mut missing = Vec::new();
        for target in import_targets(page) {
            let Some(relative) = target.strip_prefix('/') else { continue };
            let present = match self {
                Assets::Folder(root) => match safe_join(root, relative) {
                    Some(path) => tokio::fs::try_exists(path).await.unwrap_or(false),
                    None => false,
                },
                Assets::BuiltIn => BUILT_IN.get_file(relative).is_some(),
            };
            if relative.starts_with(PACKAGES) && !target.ends_with('/') && !present {
                missing.push(target.to_string());
            }
        }
        missing
    }

    /// At start: one clear error when the index page's packages are missing, since the
    /// page would otherwise be a blank canvas (it serves [`Assets::missing_packages_page`] instead).
    pub async fn log_missing_packages(&self) {
        let Some(index) = self.read(INDEX).await else {
            tracing::error!("the browser client has no index.html: check --assets-dir");
            return;
        };
        let missing = self.missing_imports(&String::from_utf8_lossy(&index)).await;
        if missing.is_empty() {
            return;
        }
        match self {
            Assets::BuiltIn => tracing::error!(
                ?missing,
                "the browser client's packages were not built in: run scripts/deps.sh client, then rebuild"
            ),
            Assets::Folder(root) => tracing::error!(
                ?missing,
                folder = %root.display(),
                "the browser client's packages are missing from --assets-dir: run scripts/deps.sh client (npm ci in that folder)"
            ),
        }
    }

    /// Served instead of a page whose packages are missing: says what to run.
    fn missing_packages_page(&self) -> String {
        let remedy = match self {
            Assets::BuiltIn => "run <code>scripts/deps.sh client</code>, then rebuild <code>arena-server</code>",
            Assets::Folder(_) => "run <code>scripts/deps.sh client</code> (npm ci in the --assets-dir folder)",
        };
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Arena: client packages missing</title></head>\n\
             <body><h1>The browser client is incomplete</h1>\n\
             <p>The client's npm packages are missing, so the game cannot start: {remedy}.</p></body></html>\n"
        )
    }
}

/// The response for `url_path` (`/` is the index page), or `None` (a 404) for
/// anything that is not one of the client's files: outside the folder, hidden,
/// npm's bookkeeping, or a package file no page's import map points into. A page whose
/// packages are missing is answered with a 503 page saying what to run.
pub async fn serve(assets: &Assets, url_path: &str) -> Option<Response<Body>> {
    let relative = if url_path == "/" { INDEX } else { url_path.strip_prefix('/')? };
    let content_type = match classify(relative)? {
        Kind::Client(content_type) => content_type,
        Kind::Package(content_type) => {
            let pages = assets.pages().await;
            if !pages
                .iter()
                .flat_map(|page| package_folders(&String::from_utf8_lossy(page)))
                .any(|folder| relative.starts_with(folder.as_str()))
            {
                return None;
            }
            content_type
        }
    };
    let mut body = assets.read(relative).await?;
    let mut status = StatusCode::OK;
    let policy = if content_type.starts_with("text/html") {
        let page = String::from_utf8_lossy(&body).into_owned();
        if !assets.missing_imports(&page).await.is_empty() {
            body = Bytes::from(assets.missing_packages_page());
            status = StatusCode::SERVICE_UNAVAILABLE;
        }
        content_security_policy(&String::from_utf8_lossy(&body))
    } else {
        content_security_policy("")
    };
    Some(
        Response::builder()
            .status(status)
            .header(CONTENT_TYPE, HeaderValue::from_static(content_type))
            .header(CACHE_CONTROL, "no-cache")
            .header(X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(CONTENT_SECURITY_POLICY, policy)
            .header(REFERRER_POLICY, "no-referrer")
            .body(Body::from(body))
            .expect("static response"),
    )
}

/// What a requested name may be, judged from the name alone.
#[derive(Debug, PartialEq)]
enum Kind {
    /// One of the client's own files, with its content type.
    Client(&'static str),
    /// A module file in the packages; served only if the import map points at its folder.
    Package(&'static str),
}

/// `None` for names never served: hidden files and folders (which covers `..`),
/// escapes (`%`, `\`), empty segments, and anything in a folder other than the packages.
fn classify(relative: &str) -> Option<Kind> {
    if relative.contains(['%', '\\', '\0']) {
        return None;
    }
    let segments: Vec<&str> = relative.split('/').collect();
    if segments.iter().any(|s| s.is_empty() || s.starts_with('.')) {
        return None;
    }
    let extension = segments.last()?.rsplit_once('.')?.1;
    let type_of = |types: &[(&str, &'static str)]| types.iter().find(|(e, _)| *e == extension).map(|(_, t)| *t);
    match segments.as_slice() {
        [_file] => type_of(CLIENT_TYPES).map(Kind::Client),
        [PACKAGES, _, _, ..] => type_of(PACKAGE_TYPES).map(Kind::Package),
        _ => None,
    }
}

/// The package folders a page's import map points into, relative to the
/// assets folder and ending in `/`: a target file's folder
/// (`/node_modules/@msgpack/msgpack/dist.esm/index.mjs` → `node_modules/@msgpack/msgpack/dist.esm/`)
/// holds the modules it imports relatively; a target ending in `/` is a folder already.
fn package_folders(index_html: &str) -> Vec<String> {
    let mut folders = Vec::new();
    for target in import_targets(index_html) {
        let Some(target) = target.strip_prefix('/') else { continue };
        let folder = &target[..target.rfind('/').map_or(0, |i| i + 1)];
        // The folder must itself pass the name rules, so a map cannot widen what is served.
        let inside = folder.strip_suffix('/').is_some_and(|f| classify(&format!("{f}/x.js")).is_some());
        if inside && folder.starts_with(PACKAGES) && !folders.iter().any(|f| f == folder) {
            folders.push(folder.to_string());
        }
    }
    folders
}

/// Every target URL of a page's import maps (`imports` and `scopes`), as written.
fn import_targets(html: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for element in inline_elements(html, "script") {
        if !element.attributes.to_ascii_lowercase().contains("importmap") {
            continue;
        }
        let Ok(map) = serde_json::from_str::<serde_json::Value>(element.text) else { continue };
        let scopes = map.get("scopes").and_then(|s| s.as_object()).into_iter().flat_map(|s| s.values());
        let maps = map.get("imports").into_iter().chain(scopes).filter_map(|m| m.as_object());
        targets.extend(maps.flat_map(|m| m.values()).filter_map(|t| t.as_str()).map(str::to_string));
    }
    targets
}

/// Join without ever leaving `root`: only plain path components are allowed.
fn safe_join(root: &Path, relative: &str) -> Option<PathBuf> {
    let relative = Path::new(relative);
    if relative.components().all(|c| matches!(c, Component::Normal(_))) { Some(root.join(relative)) } else { None }
}

/// The policy for a response whose body is `html` (empty for non-pages): the page's
/// inline scripts (the import map) and styles are allowed by their hashes, computed
/// from the bytes served, so the policy never needs `'unsafe-inline'`.
fn content_security_policy(html: &str) -> String {
    let hashes = |tag| {
        let mut sources: Vec<String> =
            inline_elements(html, tag).iter().map(|e| format!(" 'sha256-{}'", csp_hash(e.text.as_bytes()))).collect();
        sources.dedup();
        sources.concat()
    };
    let (scripts, styles) = (hashes("script"), hashes("style"));
    POLICY
        .iter()
        .map(|directive| match *directive {
            "script-src 'self'" => format!("{directive}{scripts}"),
            "style-src 'self'" => format!("{directive}{styles}"),
            _ => directive.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One inline `<tag …>text</tag>` element of a page (elements with `src` are not inline).
struct InlineElement<'a> {
    attributes: &'a str,
    text: &'a str,
}

/// The inline elements named `tag` in `html`, outside comments. Enough HTML for our
/// own two pages, which is all this ever reads.
fn inline_elements<'a>(html: &'a str, tag: &str) -> Vec<InlineElement<'a>> {
    // ASCII lowercasing keeps every byte offset, so positions found in `lower` index `html`.
    let lower = html.to_ascii_lowercase();
    let (open, close) = (format!("<{tag}"), format!("</{tag}"));
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find('<').map(|i| at + i) {
        let rest = &lower[start..];
        if rest.starts_with("<!--") {
            at = rest.find("-->").map_or(lower.len(), |i| start + i + 3);
            continue;
        }
        let named = rest
            .strip_prefix(open.as_str())
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_whitespace() || c == '>'));
        if !named {
            at = start + 1;
            continue;
        }
        let Some(tag_end) = rest.find('>').map(|i| start + i) else { break };
        let Some(text_end) = lower[tag_end..].find(close.as_str()).map(|i| tag_end + i) else { break };
        let attributes = &html[start + open.len()..tag_end];
        let external =
            attributes.to_ascii_lowercase().split(|c: char| c.is_ascii_whitespace()).any(|a| a.starts_with("src="));
        if !external {
            found.push(InlineElement { attributes, text: &html[tag_end + 1..text_end] });
        }
        at = text_end + close.len();
    }
    found
}

/// A CSP hash source's value: base64 of the SHA-256 of the element's text.
fn csp_hash(text: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "text/javascript; charset=utf-8";

    #[test]
    fn never_leaves_the_root() {
        let root = Path::new("/srv/assets");
        assert_eq!(safe_join(root, "main.js"), Some(PathBuf::from("/srv/assets/main.js")));
        assert_eq!(safe_join(root, "../secret"), None);
        assert_eq!(safe_join(root, "a/../../b"), None);
        assert_eq!(safe_join(root, "/etc/passwd"), None);
    }

    #[test]
    fn only_client_files_and_package_modules_pass_the_name_rules() {
        assert_eq!(classify("main.js"), Some(Kind::Client(TEXT)));
        assert_eq!(classify("index.html"), Some(Kind::Client("text/html; charset=utf-8")));
        assert_eq!(classify("node_modules/@msgpack/msgpack/dist.esm/index.mjs"), Some(Kind::Package(TEXT)));
        for refused in [
            "package.json",
            "package-lock.json",
            "settings.toml",
            ".gitignore",
            ".env.js",
            ".git/config",
            "node_modules/.package-lock.json",
            "node_modules/@msgpack/msgpack/package.json",
            "node_modules/@msgpack/msgpack/dist.esm/index.mjs.map",
            "node_modules/@msgpack/msgpack/src/index.ts",
            "node_modules/x.js",
            "node_modules/@msgpack/.hidden/index.mjs",
            "sub/main.js",
            "../Cargo.toml",
            "%2e%2e/Cargo.toml",
            "a//b.js",
            "dir\\main.js",
            "",
            "noextension",
        ] {
            assert_eq!(classify(refused), None, "{refused}");
        }
    }

    #[test]
    fn the_built_in_copy_holds_the_client_and_nothing_of_npm() {
        assert!(BUILT_IN.get_file(INDEX).is_some());
        assert!(Assets::built_in_settings().is_some_and(|text| text.contains("arena_width")));
        for absent in [
            "package.json",
            "package-lock.json",
            "node_modules/.package-lock.json",
            "node_modules/@msgpack/msgpack/package.json",
            "node_modules/@msgpack/msgpack/dist.esm/index.mjs.map",
            "node_modules/@msgpack/msgpack/dist.cjs/index.cjs",
        ] {
            assert!(BUILT_IN.get_file(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn the_import_map_names_the_package_folders() {
        let page = r#"<!-- <script type="importmap">{"imports": {"a": "/node_modules/commented/x.mjs"}}</script> -->
            <script type="importmap">
              { "imports": { "@msgpack/msgpack": "/node_modules/@msgpack/msgpack/dist.esm/index.mjs",
                             "lib/": "/node_modules/lib/esm/",
                             "own": "/main.js",
                             "sneaky": "/node_modules/../secret.js",
                             "hidden": "/node_modules/.bin/x.js" },
                "scopes": { "/": { "other": "/node_modules/other/index.js" } } }
            </script>
            <script type="module" src="/main.js"></script>"#;
        assert_eq!(
            package_folders(page),
            ["node_modules/@msgpack/msgpack/dist.esm/", "node_modules/lib/esm/", "node_modules/other/"]
        );
    }

    #[test]
    fn the_policy_allows_inline_elements_by_hash_only() {
        let page = "<head><script type=\"importmap\">{}</script><script type=module src=/main.js></script>\
                    <STYLE>b{}</STYLE></head>";
        let policy = content_security_policy(page);
        let script_hash = csp_hash(b"{}");
        assert!(policy.contains(&format!("script-src 'self' 'sha256-{script_hash}';")), "{policy}");
        assert!(policy.contains(&format!("style-src 'self' 'sha256-{}';", csp_hash(b"b{}"))), "{policy}");
        assert!(!policy.contains("unsafe"));
        for directive in
            ["frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'", "connect-src 'self' ws: wss:"]
        {
            assert!(policy.contains(directive), "{policy}");
        }
        assert!(content_security_policy("").contains("script-src 'self'; style-src 'self';"));
    }
}
