//! The static client: only its own files and the package modules its import map names
//! are served, each with nosniff, a Content-Security-Policy and no referrer.

use std::path::{Path, PathBuf};

use arena_server::Config;

use crate::util::TestServer;
use crate::util::http::{HttpResponse, http_get, http_request};

const MSGPACK: &str = "/node_modules/@msgpack/msgpack/dist.esm/index.mjs";
const UPLOT: &str = "/node_modules/uplot/dist/uPlot.esm.js";
const UPLOT_CSS: &str = "/node_modules/uplot/dist/uPlot.min.css";

/// A served file: 200 with the headers every static response carries.
fn assert_protected(path: &str, response: &HttpResponse) {
    assert_eq!(response.status, 200, "{path}: {}", response.headers);
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"), "{path}");
    assert_eq!(response.header("referrer-policy"), Some("no-referrer"), "{path}");
    let policy = response.header("content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self' ws: wss:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ] {
        assert!(policy.contains(directive), "{path}: {directive} missing from {policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{path}: {policy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_its_modules_and_the_msgpack_package_carry_nosniff_and_csp() {
    // Without --assets-dir: the copy built into the binary.
    assert_eq!(Config::for_tests().assets_dir, None);
    let server = TestServer::start().await;

    let index = http_get(server.addr, "/").await;
    assert_protected("/", &index);
    assert!(index.body.contains("importmap"));
    // The inline import map is allowed by its hash, not by 'unsafe-inline'.
    let policy = index.header("content-security-policy").unwrap();
    let script_src = policy.split(';').find(|d| d.trim().starts_with("script-src")).unwrap();
    assert!(script_src.contains("'sha256-"), "{policy}");

    for path in
        ["/main.js", "/protocol.js", "/style.css", MSGPACK, "/node_modules/@msgpack/msgpack/dist.esm/utils/int.mjs"]
    {
        let response = http_get(server.addr, path).await;
        assert_protected(path, &response);
        if path.ends_with("js") {
            assert_eq!(response.header("content-type"), Some("text/javascript; charset=utf-8"), "{path}");
        }
    }
    let monitor = http_get(server.addr, "/monitor").await;
    assert_protected("/monitor", &monitor);
    assert!(monitor.body.contains("monitor.js"));
    // The monitor's own import map (uPlot) is allowed by its hash too.
    let policy = monitor.header("content-security-policy").unwrap();
    assert!(policy.split(';').any(|d| d.trim().starts_with("script-src 'self' 'sha256-")), "{policy}");
    for (path, content_type) in [(UPLOT, "text/javascript; charset=utf-8"), (UPLOT_CSS, "text/css; charset=utf-8")] {
        let response = http_get(server.addr, path).await;
        assert_protected(path, &response);
        assert_eq!(response.header("content-type"), Some(content_type), "{path}");
    }

    let head =
        http_request(server.addr, &format!("HEAD / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr))
            .await;
    assert_protected("HEAD /", &head);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_bookkeeping_package_internals_and_escapes_are_404() {
    let server = TestServer::start().await;
    for path in [
        "/package.json",
        "/package-lock.json",
        "/settings.toml",
        "/.gitignore",
        "/node_modules/.package-lock.json",
        "/node_modules/@msgpack/msgpack/package.json",
        "/node_modules/@msgpack/msgpack/README.md",
        "/node_modules/@msgpack/msgpack/src/index.ts",
        "/node_modules/@msgpack/msgpack/dist.esm/index.mjs.map",
        "/node_modules/@msgpack/msgpack/dist.cjs/index.cjs",
        "/node_modules/@msgpack/msgpack/dist.esm/",
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E/%2E%2E/Cargo.toml",
        "/..%2fCargo.toml",
        "/node_modules/@msgpack/msgpack/dist.esm/../package.json",
        "/node_modules/uplot/package.json",
        "/node_modules/uplot/README.md",
        "/node_modules/uplot/dist/uPlot.d.ts",
    ] {
        assert_eq!(http_get(server.addr, path).await.status, 404, "{path}");
    }
    server.shutdown().await;
}

/// An assets folder of our own, with the files a real one may hold that must never be served.
struct Folder(PathBuf);

impl Folder {
    fn new() -> Folder {
        let root = std::env::temp_dir().join(format!("arena-static-{}-{}", std::process::id(), rand::random::<u32>()));
        let files: [(&str, &str); 14] = [
            ("outside.txt", "secret beside the assets folder"),
            (
                "assets/index.html",
                r#"<script type="importmap">{ "imports": { "pkg": "/node_modules/pkg/esm/index.mjs" } }</script>"#,
            ),
            ("assets/app.js", "export {};"),
            // A second page's import map counts too.
            (
                "assets/second.html",
                r#"<script type="importmap">{ "imports": { "two": "/node_modules/two/dist/two.js" } }</script>"#,
            ),
            ("assets/node_modules/two/dist/two.js", "export {};"),
            ("assets/.env", "SECRET=1"),
            ("assets/.hidden/app.js", "export {};"),
            ("assets/package.json", "{}"),
            ("assets/node_modules/pkg/package.json", "{}"),
            ("assets/node_modules/pkg/esm/index.mjs", "export * from './lib/util.mjs';"),
            ("assets/node_modules/pkg/esm/lib/util.mjs", "export const x = 1;"),
            ("assets/node_modules/pkg/esm/.secret.mjs", "export {};"),
            ("assets/node_modules/pkg/cjs/index.js", "module.exports = {};"),
            ("assets/node_modules/other/index.mjs", "export {};"),
        ];
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Folder(root)
    }

    fn assets(&self) -> PathBuf {
        self.0.join("assets")
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_folders_the_import_map_names_are_served_and_hidden_files_never() {
    let folder = Folder::new();
    let mut config = Config::for_tests();
    config.assets_dir = Some(folder.assets());
    let server = TestServer::start_with(config).await;
    for path in [
        "/",
        "/app.js",
        "/node_modules/pkg/esm/index.mjs",
        "/node_modules/pkg/esm/lib/util.mjs",
        "/second.html",
        "/node_modules/two/dist/two.js",
    ] {
        assert_protected(path, &http_get(server.addr, path).await);
    }
    for path in [
        "/.env",
        "/.hidden/app.js",
        "/package.json",
        "/node_modules/pkg/package.json",
        "/node_modules/pkg/esm/.secret.mjs",
        "/node_modules/pkg/cjs/index.js",
        "/node_modules/other/index.mjs",
        "/../outside.txt",
        "/%2e%2e/outside.txt",
        "/./app.js",
    ] {
        assert!(exists_under(&folder.0, path), "{path} names no file; the refusal would prove nothing");
        assert_eq!(http_get(server.addr, path).await.status, 404, "{path}");
    }
    server.shutdown().await;
}

/// Whether `url_path` names a real file once decoded and resolved against the assets folder.
fn exists_under(root: &Path, url_path: &str) -> bool {
    let decoded = url_path.replace("%2e", ".");
    root.join("assets").join(decoded.trim_start_matches('/')).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_packages_are_missing_says_what_to_run_instead_of_a_blank_canvas() {
    let folder = Folder::new();
    std::fs::remove_dir_all(folder.assets().join("node_modules/pkg")).unwrap();
    let mut config = Config::for_tests();
    config.assets_dir = Some(folder.assets());
    let server = TestServer::start_with(config).await;
    let page = http_get(server.addr, "/").await;
    assert_eq!(page.status, 503, "{}", page.headers);
    assert!(page.body.contains("scripts/deps.sh client"), "{}", page.body);
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(page.header("content-security-policy").is_some_and(|p| p.contains("default-src 'none'")));
    assert_protected("/app.js", &http_get(server.addr, "/app.js").await);
    server.shutdown().await;
}
