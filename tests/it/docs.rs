//! The generated service's API documentation, checked from the outside: `/openapi.json`
//! over HTTP, and the `/docs` page in a real headless Chromium, which must run the page's
//! script and list the operations (the page is served by the binary itself, no CDN).
//!
//! Called by the end-to-end journeys in `e2e.rs` while they serve the bookstore. Without a
//! Chromium the browser check is skipped with a notice, except under `CI=true`, where it
//! fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The operations of the bookstore example, as `METHOD /path`.
pub const BOOKSTORE_OPERATIONS: &[&str] = &[
    "GET /health",
    "GET /openapi.json",
    "GET /docs",
    "GET /authors",
    "POST /authors",
    "GET /authors/{id}",
    "PUT /authors/{id}",
    "PATCH /authors/{id}",
    "DELETE /authors/{id}",
    "GET /authors/{id}/books",
    "GET /books",
    "POST /books",
    "GET /books/{id}",
    "PUT /books/{id}",
    "PATCH /books/{id}",
    "DELETE /books/{id}",
];

fn get(port: u16, path: &str) -> ureq::Response {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build()
        .get(&format!("http://127.0.0.1:{port}{path}"))
        .call()
        .unwrap_or_else(|err| panic!("GET {path}: {err}"))
}

/// `GET /openapi.json` is an OpenAPI 3 document listing exactly `operations`, with the
/// request and response schemas of each resource and the error body.
pub fn assert_openapi_lists(port: u16, operations: &[&str]) {
    let response = get(port, "/openapi.json");
    assert_eq!(response.content_type(), "application/json");
    let document: Value = response.into_json().expect("/openapi.json is JSON");
    assert!(
        document["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3."),
        "an OpenAPI 3 document: {}",
        document["openapi"]
    );
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if method != "parameters" {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    documented.sort();
    let mut expected: Vec<String> = operations.iter().map(|op| op.to_string()).collect();
    expected.sort();
    assert_eq!(documented, expected, "the documented operations");
    let schemas = &document["components"]["schemas"];
    for name in [
        "Error",
        "Author",
        "NewAuthor",
        "AuthorPatch",
        "Book",
        "NewBook",
        "BookPage",
    ] {
        assert!(schemas[name].is_object(), "schema {name} in {schemas}");
    }
    let book = &schemas["Book"]["properties"];
    assert_eq!(book["title"]["maxLength"], 200, "{book}");
    assert_eq!(book["published_on"]["format"], "date", "{book}");
    assert_eq!(book["published_on"]["nullable"], true, "{book}");
    let create = &document["paths"]["/books"]["post"]["responses"];
    for status in ["201", "400", "409", "413", "422", "503"] {
        assert!(
            create[status].is_object(),
            "POST /books documents {status}: {create}"
        );
    }
}

/// A program a check needs: `env_var` when set, else the first of `names` found on the PATH
/// or in /usr/sbin (where Debian puts nginx).
fn program(env_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .collect();
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// The browser to use: `DIESELKIT_TEST_CHROMIUM`, else `chromium` (Debian) or
/// `chromium-browser`.
fn chromium() -> Option<PathBuf> {
    program("DIESELKIT_TEST_CHROMIUM", &["chromium", "chromium-browser"])
}

/// A check that cannot run for want of `tools`: a failure under `CI=true`, else skipped
/// with a notice.
fn missing_tools(check: &str, tools: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{check} needs {tools}, which are required under CI=true (Debian packages: {tools})"
        );
    }
    crate::support::skip_notice(&format!("{check}: install {tools} to run it"));
}

/// Loads `/docs` in headless Chromium and asserts that the DOM it ends with lists each of
/// `operations` (so the script ran and read `/openapi.json`).
pub fn assert_docs_page_lists(port: u16, operations: &[&str], scratch: &Path) {
    let page = get(port, "/docs");
    assert!(page.content_type().starts_with("text/html"));
    let Some(chromium) = chromium() else {
        return missing_tools("the /docs browser check", "chromium");
    };
    let dom = dump_dom(&chromium, &format!("http://127.0.0.1:{port}/docs"), scratch);
    let text = visible_text(&dom);
    assert!(
        !text.contains("Could not load /openapi.json"),
        "the page failed to load the document:\n{text}"
    );
    for operation in operations {
        assert!(
            text.contains(operation),
            "/docs in Chromium does not list `{operation}`; its text:\n{text}"
        );
    }
}

/// The DOM of `url` after its scripts ran, serialized by Chromium.
fn dump_dom(chromium: &Path, url: &str, scratch: &Path) -> String {
    let profile = scratch.join("chromium-profile");
    let out_path = scratch.join("docs-dom.html");
    let err_path = scratch.join("chromium.log");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Let the page's fetch of /openapi.json finish before the DOM is dumped.
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("dom file"))
        .stderr(std::fs::File::create(&err_path).expect("log file"))
        .spawn()
        .unwrap_or_else(|err| panic!("start {}: {err}", chromium.display()));
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(status.success(), "chromium exited with {status}:\n{log}");
    std::fs::read_to_string(&out_path).expect("read the dumped DOM")
}

/// The text of an HTML document: tags removed, whitespace collapsed, `&amp;` and friends
/// decoded (enough for comparing against `GET /authors/{id}`).
fn visible_text(html: &str) -> String {
    // Line-break hints inside a word (Swagger UI breaks long paths with them).
    let html = html.replace("<wbr>", "").replace('\u{200b}', "");
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn visible_text_drops_tags_and_collapses_whitespace() {
    let html =
        "<summary><span class=\"method get\">GET</span> <span>/authors/{id}</span>\n</summary>";
    assert_eq!(visible_text(html), "GET /authors/{id}");
    assert_eq!(
        visible_text("<a><span>/authors<wbr>/{id}</span></a>"),
        "/authors/{id}"
    );
}

/// `chromedriver` for the interactive check: `DIESELKIT_TEST_CHROMEDRIVER`, else Debian's
/// `chromium-driver`.
fn chromedriver() -> Option<PathBuf> {
    program("DIESELKIT_TEST_CHROMEDRIVER", &["chromedriver"])
}

/// A WebDriver session on a headless Chromium, spoken to over HTTP (W3C WebDriver), closed
/// with its driver when dropped.
struct Browser {
    driver: std::process::Child,
    base: String,
    agent: ureq::Agent,
}

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    fn start(chromedriver: &Path, chromium: &Path, scratch: &Path) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(scratch.join("chromedriver.log")).expect("log"))
            .spawn()
            .unwrap_or_else(|err| panic!("start {}: {err}", chromedriver.display()));
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while browser
            .agent
            .get(&format!("{}/status", browser.base))
            .call()
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = scratch.join("webdriver-profile");
        let session = browser.call(
            "POST",
            "/session",
            serde_json::json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             "--window-size=1280,2000", format!("--user-data-dir={}", profile.display())]
                }
            }}}),
        );
        let id = session["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let request = self.agent.request(method, &format!("{}{path}", self.base));
        let response = if method == "GET" || method == "DELETE" {
            request.call()
        } else {
            request.send_json(body)
        };
        let reply: Value = match response {
            Ok(r) => r.into_json().expect("WebDriver answers JSON"),
            Err(ureq::Error::Status(status, r)) => {
                let text = r.into_string().unwrap_or_default();
                panic!("WebDriver {method} {path}: {status} {text}")
            }
            Err(err) => panic!("WebDriver {method} {path}: {err}"),
        };
        reply["value"].clone()
    }

    /// The first element matching `css`, waiting up to 20 s for it to appear.
    fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.call(
                "POST",
                "/elements",
                serde_json::json!({"using": "css selector", "value": css}),
            );
            if let Some(element) = found.as_array().and_then(|all| all.first()) {
                return element[ELEMENT].as_str().expect("an element").to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no `{css}` on the page within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn click(&self, css: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            serde_json::json!({}),
        );
    }

    fn text(&self, css: &str) -> String {
        let element = self.find(css);
        let text = self.call("GET", &format!("/element/{element}/text"), Value::Null);
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Waits up to 20 s for the text of `css` to satisfy `done`, and returns it.
    fn wait_for_text(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.text(css);
            if done(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` still reads {text:?} after 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, to: &Path) {
        use base64::Engine as _;
        let png = self.call("GET", "/screenshot", Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("a PNG");
        std::fs::write(to, bytes).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where screenshots of the browser test are kept: `target/test-artifacts/`.
fn artifact_dir() -> PathBuf {
    let dir = crate::support::repo_root()
        .join("target")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

/// As a user would, in a real browser: open `{base}/docs`, expand `POST /authors`, press
/// "Try it out", send the prefilled example, and see the 201 in the page. `base` is the
/// service's URL (`http://127.0.0.1:PORT`), or a reverse proxy's with a path prefix.
/// Returns the created row as the page showed it; a screenshot of the page is kept in
/// `target/test-artifacts/`.
pub fn create_an_author_from_the_docs_page(
    base: &str,
    name: &str,
    scratch: &Path,
) -> Option<Value> {
    let (Some(chromium), Some(driver)) = (chromium(), chromedriver()) else {
        missing_tools("the /docs try-it-out check", "chromium chromium-driver");
        return None;
    };
    let browser = Browser::start(&driver, &chromium, scratch);
    browser.call(
        "POST",
        "/url",
        serde_json::json!({"url": format!("{base}/docs")}),
    );
    let operation = "#operations-authors-create_author";
    browser.click(&format!("{operation} .opblock-summary"));
    // The service opens operations in "Try it out" mode; the button then says "Cancel".
    let try_it = format!("{operation} .try-out__btn");
    if browser.text(&try_it).contains("Try it out") {
        browser.click(&try_it);
    }
    let example = browser.text(&format!("{operation} textarea.body-param__text"));
    assert!(
        example.contains("\"name\""),
        "the body is prefilled from the document: {example}"
    );
    browser.click(&format!("{operation} .execute"));
    let status_css = format!("{operation} .live-responses-table .response .response-col_status");
    let status = browser.wait_for_text(&status_css, |text| !text.trim().is_empty());
    let shot = artifact_dir().join(format!("docs-try-it-out-{name}.png"));
    browser.screenshot(&shot);
    assert!(
        status.trim().starts_with("201"),
        "the page shows {status:?} (screenshot: {})",
        shot.display()
    );
    let body = browser.text(&format!(
        "{operation} .live-responses-table .response-col_description pre"
    ));
    let created: Value = serde_json::from_str(body.trim())
        .unwrap_or_else(|err| panic!("the page shows the created row as JSON ({err}): {body}"));

    // And list the authors from the page: the new one is there.
    let list = "#operations-authors-list_authors";
    browser.click(&format!("{list} .opblock-summary"));
    let try_it = format!("{list} .try-out__btn");
    if browser.text(&try_it).contains("Try it out") {
        browser.click(&try_it);
    }
    browser.click(&format!("{list} .execute"));
    let status_css = format!("{list} .live-responses-table .response .response-col_status");
    let status = browser.wait_for_text(&status_css, |text| !text.trim().is_empty());
    assert!(
        status.trim().starts_with("200"),
        "GET /authors from the page: {status:?}"
    );
    let body = browser.text(&format!(
        "{list} .live-responses-table .response-col_description pre"
    ));
    let page: Value = serde_json::from_str(body.trim())
        .unwrap_or_else(|err| panic!("the page shows the list as JSON ({err}): {body}"));
    let ids: Vec<&Value> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|row| &row["id"])
        .collect();
    // The page holds the first `per_page` rows in id order: the new author is on it when
    // they all fit.
    let fits = page["meta"]["total"].as_i64() <= page["meta"]["per_page"].as_i64();
    assert!(!ids.is_empty(), "the list shows authors: {body}");
    assert!(
        !fits || ids.contains(&&created["id"]),
        "the list shows the new author: {body}"
    );
    Some(created)
}

/// nginx in front of the service, serving it under `/api/` (what a reverse proxy with a
/// path prefix does), stopped when dropped.
pub struct PrefixProxy {
    nginx: std::process::Child,
    /// `http://127.0.0.1:PORT/api`
    pub base: String,
}

impl Drop for PrefixProxy {
    fn drop(&mut self) {
        let _ = self.nginx.kill();
        let _ = self.nginx.wait();
    }
}

/// Starts nginx (Debian's `nginx`, `DIESELKIT_TEST_NGINX` to override) proxying `/api/` to
/// the service on `port`. `None` (with a notice) without nginx; a failure under `CI=true`.
pub fn prefix_proxy(port: u16, scratch: &Path) -> Option<PrefixProxy> {
    let Some(nginx) = program("DIESELKIT_TEST_NGINX", &["nginx"]) else {
        missing_tools("the /docs behind a path prefix check", "nginx");
        return None;
    };
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = scratch.join("nginx");
    std::fs::create_dir_all(&dir).expect("nginx dir");
    let d = dir.display();
    // No buffering to temporary files (the workers may run as another user than the test).
    let config = format!(
        "daemon off; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{}}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           server {{\n\
             listen 127.0.0.1:{listen};\n\
             location /api/ {{ proxy_pass http://127.0.0.1:{port}/; proxy_buffering off; }}\n\
           }}\n\
         }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), config).expect("nginx.conf");
    let child = Command::new(&nginx)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log"))
        .spawn()
        .unwrap_or_else(|err| panic!("start {}: {err}", nginx.display()));
    let proxy = PrefixProxy {
        nginx: child,
        base: format!("http://127.0.0.1:{listen}/api"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while ureq::get(&format!("{}/health", proxy.base)).call().is_err() {
        let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "nginx did not start proxying: {log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(proxy)
}
