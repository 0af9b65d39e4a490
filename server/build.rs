//! Copies the browser client into `$OUT_DIR/client` for `edge/assets.rs` to embed: the
//! client's own files, `settings.toml`, and the package modules its import maps name.
//! Missing packages (no `npm ci` yet) leave them out; the server then says what to run.

use std::path::{Path, PathBuf};
use std::{env, fs};

/// Extensions of the client's own files, at the top of `assets/` (as `edge/assets.rs` serves them).
const CLIENT_TYPES: [&str; 7] = ["html", "js", "mjs", "css", "svg", "png", "ico"];

/// Extensions of the package files served: the modules and style sheets, not manifests,
/// sources or maps.
const PACKAGE_TYPES: [&str; 3] = ["mjs", "js", "css"];

fn main() {
    let assets = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("../assets");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it")).join("client");
    // A directory is scanned whole, so `npm ci` after a build makes the next build embed the packages.
    println!("cargo::rerun-if-changed={}", assets.display());
    if out.exists() {
        fs::remove_dir_all(&out).expect("clear the previous copy of the client");
    }
    fs::create_dir_all(&out).expect("create the client's copy in OUT_DIR");
    let mut folders = Vec::new();
    for entry in fs::read_dir(&assets).into_iter().flatten().flatten() {
        let (path, name) = (entry.path(), entry.file_name().to_string_lossy().into_owned());
        let wanted = name == "settings.toml" || has_type(&path, &CLIENT_TYPES);
        if name.starts_with('.') || !path.is_file() || !wanted {
            continue;
        }
        fs::copy(&path, out.join(&name)).expect("copy a client file");
        if name.ends_with(".html") {
            let page = fs::read_to_string(&path).expect("read a page");
            folders.extend(package_folders(&page));
        }
    }
    for folder in folders {
        copy_modules(&assets.join(&folder), &out.join(&folder));
    }
}

fn has_type(path: &Path, types: &[&str]) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| types.contains(&e))
}

/// The `/node_modules/…/` folders a page's quoted URLs point into (its import map).
/// The server decides what it serves; this only picks what to carry.
fn package_folders(page: &str) -> Vec<String> {
    page.split('"')
        .filter_map(|quoted| quoted.strip_prefix('/'))
        .filter(|target| target.starts_with("node_modules/"))
        .map(|target| target[..target.rfind('/').map_or(0, |i| i + 1)].to_string())
        .filter(|folder| folder.split('/').all(|segment| !segment.starts_with('.')))
        .collect()
}

/// Copy the modules under `from` (recursively, hidden names skipped) to `to`.
fn copy_modules(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).into_iter().flatten().flatten() {
        let (path, name) = (entry.path(), entry.file_name());
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            copy_modules(&path, &to.join(&name));
        } else if has_type(&path, &PACKAGE_TYPES) {
            fs::create_dir_all(to).expect("create a package folder in OUT_DIR");
            fs::copy(&path, to.join(&name)).expect("copy a package module");
        }
    }
}
