//! The proxy probe: the nginx and haproxy readers on checked-in fixtures
//! (which `nginx -t` and `haproxy -c` accept), the proxy-neutral model built
//! from them and from recorded observations, and discovery of a real nginx
//! master started by the test.

use std::path::{Path, PathBuf};

use why5xx_probes::proxy::nginx::{self, Location, NginxModel, PassTarget, Server};
use why5xx_probes::proxy::{
    self, Address, ConfigSource, Dialect, Limit, LimitKind, MaintenanceSwitch, Origin, Protocol,
    ProxyKind, ProxyObservation, ProxySpec, haproxy,
};
use why5xx_probes::{FailureKind, Millis, ProbeContext};

use crate::support;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn site() -> PathBuf {
    fixtures().join("nginx/site/nginx.conf")
}

/// Load an nginx fixture with prefix `/prefix`.
fn load(main: &Path) -> proxy::Loaded<NginxModel> {
    nginx::load(main, Path::new("/prefix"), None)
}

fn model(main: &Path) -> NginxModel {
    let loaded = load(main);
    assert!(loaded.failure.is_none(), "{:?}", loaded.failure);
    loaded.model.unwrap()
}

fn server<'a>(m: &'a NginxModel, name: &str) -> &'a Server {
    m.servers
        .iter()
        .find(|s| s.server_names.iter().any(|n| n == name))
        .unwrap_or_else(|| panic!("no server {name}"))
}

fn location<'a>(s: &'a Server, matcher: &str) -> &'a Location {
    s.locations
        .iter()
        .find(|l| l.matcher == matcher)
        .unwrap_or_else(|| panic!("no location {matcher}"))
}

/// Seconds as the optional milliseconds timeouts carry.
#[expect(
    clippy::unnecessary_wraps,
    reason = "compared with `Option<Millis>` values"
)]
fn secs(s: f64) -> Option<Millis> {
    Some(Millis(s * 1000.0))
}

/// `nginx -t` with the fixture as the configuration and a scratch prefix.
fn nginx_t(conf: &Path) -> std::process::Output {
    let prefix = tempfile::tempdir().unwrap();
    for dir in ["logs", "tmp"] {
        std::fs::create_dir_all(prefix.path().join(dir)).unwrap();
    }
    std::process::Command::new("nginx")
        .arg("-t")
        .arg("-p")
        .arg(prefix.path())
        .arg("-c")
        .arg(conf)
        .output()
        .expect("nginx must be installed")
}

#[test]
fn nginx_fixtures_pass_nginx_t() {
    for conf in [
        site(),
        fixtures().join("nginx/tokens.conf"),
        model_conf(),
        fixtures().join("nginx/stream/nginx.conf"),
    ] {
        let out = nginx_t(&conf);
        assert!(
            out.status.success(),
            "{}: {}",
            conf.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn nginx_tokenizer_edge_cases() {
    let m = model(&fixtures().join("nginx/tokens.conf"));
    assert_eq!(m.servers.len(), 1);
    let s = &m.servers[0];
    assert_eq!(s.server_names, ["quoted.example.com", "single.example.com"]);
    let matchers: Vec<&str> = s.locations.iter().map(|l| l.matcher.as_str()).collect();
    assert_eq!(
        matchers,
        ["/semi", "/esc", "/q", "/with space", "/hash#tag", "/multi"]
    );
    let text = |m: &str| location(s, m).returns[0].text.clone().unwrap();
    // Quoted: `;`, braces and `#` are text.
    assert_eq!(text("/semi"), "a;b{c}#d");
    // Unquoted `\;` does not end the directive; nginx keeps the backslash.
    assert_eq!(text("/esc"), r"a\;b");
    assert_eq!(text("/q"), "say \"hi\"");
    // A directive spread over lines has the line of its first word.
    let multi = location(s, "/multi");
    assert_eq!(multi.returns[0].status, 301);
    assert_eq!(multi.returns[0].origin.line, 29);
    assert_eq!(multi.origin.line, 27);
    assert_eq!(location(s, "/semi").returns[0].origin.line, 17);
}

#[test]
fn nginx_includes_with_a_glob_and_a_relative_path() {
    let loaded = load(&site());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let dir = fixtures().join("nginx/site");
    let files: Vec<PathBuf> = loaded.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(
        files,
        [
            dir.join("nginx.conf"),
            dir.join("conf.d/resolved.conf"),
            dir.join("conf.d/shop.conf"),
            dir.join("snippets/secure.conf"),
        ]
    );
    assert!(loaded.files.iter().all(|f| f.modified.is_some()));
    let m = loaded.model.unwrap();
    assert_eq!(
        m.servers.len(),
        3,
        "hidden and non-.conf files are not included"
    );
    let shop = server(&m, "shop.example.com");
    assert_eq!(shop.origin.file, dir.join("conf.d/shop.conf"));
    assert_eq!(shop.origin.line, 1);
    assert_eq!(shop.listen[0].raw, "127.0.0.1:8080");
    assert!(shop.listen[0].default_server);
    assert_eq!(
        shop.listen[0].address,
        Address::Tcp {
            host: "127.0.0.1".into(),
            port: 8080
        }
    );
    let secure = server(&m, "secure.example.com");
    assert!(secure.listen[0].ssl);
    assert_eq!(
        secure.ssl_certificates[0].value,
        dir.join("certs/test.crt"),
        "certificates resolve against the configuration's directory"
    );
    assert_eq!(
        secure.ssl_certificate_keys[0].value,
        dir.join("certs/test.key")
    );
    assert_eq!(
        server(&m, "dyn.example.com").listen[0].address,
        Address::Tcp {
            host: "*".into(),
            port: 8081
        }
    );
    // Main context values.
    assert_eq!(m.worker_processes.as_ref().unwrap().value, "2");
    assert_eq!(m.worker_connections.as_ref().unwrap().value, 512);
    assert_eq!(m.worker_rlimit_nofile.as_ref().unwrap().value, 4096);
    assert_eq!(m.worker_connections.as_ref().unwrap().origin.line, 10);
}

#[test]
fn nginx_include_cycle_is_a_warning() {
    let loaded = load(&fixtures().join("nginx/cycle/nginx.conf"));
    assert!(loaded.failure.is_none());
    let cycles: Vec<&String> = loaded
        .warnings
        .iter()
        .filter(|w| w.contains("include cycle"))
        .collect();
    // nginx.conf includes itself; a.conf -> b.conf -> a.conf.
    assert_eq!(cycles.len(), 2, "{:?}", loaded.warnings);
    assert!(
        cycles.iter().any(|w| w.contains("cycle/b.conf:1:")),
        "{cycles:?}"
    );
    assert!(
        cycles.iter().any(|w| w.contains("cycle/nginx.conf:4:")),
        "{cycles:?}"
    );
    let m = loaded.model.unwrap();
    assert_eq!(m.servers.len(), 1);
    assert_eq!(m.forward_targets().len(), 1);
}

#[test]
fn nginx_include_depth_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // nginx.conf -> 1.conf -> 2.conf -> ... -> 20.conf, each with a server.
    std::fs::write(
        dir.path().join("nginx.conf"),
        "events {}\nhttp {\n include 1.conf;\n}\n",
    )
    .unwrap();
    for i in 1..=20 {
        std::fs::write(
            dir.path().join(format!("{i}.conf")),
            format!(
                "server {{ listen {}; }}\ninclude {}.conf;\n",
                8000 + i,
                i + 1
            ),
        )
        .unwrap();
    }
    let loaded = load(&dir.path().join("nginx.conf"));
    let m = loaded.model.unwrap();
    assert_eq!(m.servers.len(), nginx::MAX_INCLUDE_DEPTH);
    let deep: Vec<&String> = loaded
        .warnings
        .iter()
        .filter(|w| w.contains("nest deeper than 16"))
        .collect();
    assert_eq!(deep.len(), 1, "{:?}", loaded.warnings);
    assert!(deep[0].contains("16.conf:2:"), "{}", deep[0]);
}

#[test]
fn nginx_unbalanced_braces_give_a_partial_model_and_warnings() {
    let loaded = load(&fixtures().join("nginx/unbalanced/nginx.conf"));
    assert!(loaded.failure.is_none(), "not a failure: a partial model");
    let w = loaded.warnings.join("\n");
    assert!(w.contains("unbalanced/nginx.conf:3: include"), "{w}");
    assert!(w.contains("missing.conf"), "{w}");
    assert!(
        w.contains("unbalanced/nginx.conf:15: unexpected \"}\""),
        "{w}"
    );
    let m = loaded.model.unwrap();
    // The first server swallowed the second (its brace is missing) but its
    // location and proxy_pass are still there.
    let targets = m.forward_targets();
    assert_eq!(targets.len(), 1);
    assert_eq!(
        targets[0].address,
        Address::Tcp {
            host: "127.0.0.1".into(),
            port: 3000
        }
    );
    // Unclosed at end of file.
    let (_, warnings) = nginx::parse("http {\n server {\n", Path::new("/x.conf"));
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("/x.conf:2: unexpected end of file"));
    assert!(warnings[1].starts_with("/x.conf:1: unexpected end of file"));
}

#[test]
fn nginx_missing_main_config_is_a_failure() {
    let loaded = load(Path::new("/nonexistent/why5xx/nginx.conf"));
    assert!(loaded.model.is_none());
    assert_eq!(loaded.failure.unwrap().kind, FailureKind::NotFound);
}

#[test]
fn nginx_timeouts_inherit_http_server_location_nested() {
    let m = model(&site());
    let shop = server(&m, "shop.example.com");
    let dir = fixtures().join("nginx/site");
    let shop_conf = dir.join("conf.d/shop.conf");

    // Server level (10s) over http (30s).
    let root = location(shop, "/");
    assert_eq!(root.timeouts.read.value, secs(10.0));
    assert_eq!(
        root.timeouts.read.origin.as_ref().unwrap(),
        &proxy::Origin::new(&shop_conf, 5)
    );
    // 1m30s from the server; send is nginx's default.
    assert_eq!(root.timeouts.connect.value, secs(90.0));
    assert_eq!(root.timeouts.send.value, secs(60.0));
    assert_eq!(root.timeouts.send.origin, None);

    // Location overrides with 1s; the nested location inherits it.
    let api = location(shop, "/api/");
    assert_eq!(api.timeouts.read.value, secs(1.0));
    let reports = location(shop, "/api/reports/");
    assert_eq!(reports.parents, ["/api/"]);
    assert_eq!(reports.path(), "/api/ > /api/reports/");
    assert_eq!(reports.timeouts.read.value, secs(1.0));
    assert_eq!(reports.timeouts.read.origin.as_ref().unwrap().line, 17);
    assert_eq!(reports.timeouts.connect.value, secs(90.0));

    // Another server inherits http's 30s.
    let dyn_root = location(server(&m, "dyn.example.com"), "/");
    assert_eq!(dyn_root.timeouts.read.value, secs(30.0));
    assert_eq!(
        dyn_root.timeouts.read.origin.as_ref().unwrap(),
        &proxy::Origin::new(dir.join("nginx.conf"), 22)
    );
    // fastcgi_pass uses the fastcgi_* timeouts.
    let php = location(server(&m, "dyn.example.com"), r"~ \.php$");
    assert_eq!(php.timeouts.read.value, secs(120.0));
}

#[test]
fn nginx_proxy_pass_forms() {
    let m = model(&site());
    let shop = server(&m, "shop.example.com");
    let pass = |s: &Server, l: &str| location(s, l).pass.clone().unwrap();

    let p = pass(shop, "/");
    assert_eq!(p.protocol, Protocol::Http);
    assert_eq!(
        p.target,
        PassTarget::Tcp {
            host: "127.0.0.1".into(),
            port: 3000
        }
    );
    assert_eq!(p.uri, None);

    let p = pass(shop, "/api/");
    assert_eq!(p.protocol, Protocol::Https);
    assert_eq!(
        p.target,
        PassTarget::Upstream {
            name: "backend".into()
        }
    );

    let p = pass(shop, "/api/reports/");
    assert_eq!(
        p.target,
        PassTarget::Unix {
            path: "/run/app.sock".into()
        }
    );
    assert_eq!(p.uri.as_deref(), Some("/reports/"));

    let p = pass(shop, "/dyn/");
    assert_eq!(
        p.target,
        PassTarget::Variables {
            raw: "http://$upstream_host:8080".into()
        }
    );

    let dynamic = server(&m, "dyn.example.com");
    let p = pass(dynamic, r"~ \.php$");
    assert_eq!(
        (p.directive.as_str(), p.protocol),
        ("fastcgi_pass", Protocol::Fastcgi)
    );
    assert_eq!(
        p.target,
        PassTarget::Unix {
            path: "/run/php/php-fpm.sock".into()
        }
    );
    let p = pass(dynamic, "/grpc");
    assert_eq!(p.protocol, Protocol::Grpc);
    assert_eq!(
        p.target,
        PassTarget::Tcp {
            host: "127.0.0.1".into(),
            port: 50051
        }
    );
    let p = pass(dynamic, "/up/");
    assert_eq!(
        p.target,
        PassTarget::Tcp {
            host: "localhost".into(),
            port: 3000
        }
    );

    // Forms not in the fixture: default ports, an upstream declared later,
    // an upstream name with an explicit port is a host.
    let (m, w) = nginx::model_from_str(
        "http { server { listen 80;\n\
         location /a { proxy_pass https://example.com; }\n\
         location /b { proxy_pass http://late; }\n\
         location /c { proxy_pass http://late:8080; }\n\
         location /d { proxy_pass http://[::1]:9000/x; }\n\
         location /e { uwsgi_pass suwsgi://127.0.0.1:3031; }\n\
         }\n upstream late { server 10.0.0.1:81; } }",
        Path::new("/n.conf"),
        Path::new("/p"),
    );
    assert!(w.is_empty(), "{w:?}");
    let s = &m.servers[0];
    let target = |l: &str| location(s, l).pass.clone().unwrap().target;
    assert_eq!(
        target("/a"),
        PassTarget::Tcp {
            host: "example.com".into(),
            port: 443
        }
    );
    assert_eq!(
        target("/b"),
        PassTarget::Upstream {
            name: "late".into()
        }
    );
    assert_eq!(
        target("/c"),
        PassTarget::Tcp {
            host: "late".into(),
            port: 8080
        }
    );
    assert_eq!(
        target("/d"),
        PassTarget::Tcp {
            host: "::1".into(),
            port: 9000
        }
    );
    assert_eq!(
        location(s, "/e").pass.clone().unwrap().protocol,
        Protocol::Uwsgis
    );
}

#[test]
fn nginx_variables_with_and_without_a_resolver() {
    let m = model(&site());
    let targets = m.forward_targets();
    let unresolved: Vec<_> = targets
        .iter()
        .filter(|t| matches!(t.address, Address::Unresolved { .. }))
        .collect();
    assert_eq!(unresolved.len(), 2, "{unresolved:?}");
    // dyn.example.com /: the host is a variable and the server's resolver
    // is in effect.
    assert_eq!(
        unresolved[0].frontend,
        "server dyn.example.com (listen 8081)"
    );
    assert_eq!(unresolved[0].resolver.as_ref().unwrap().line, 4);
    // shop /dyn/: a variable host and no resolver anywhere.
    assert_eq!(unresolved[1].location.as_deref(), Some("/dyn/"));
    assert_eq!(unresolved[1].resolver, None);
    assert!(
        location(server(&m, "shop.example.com"), "/dyn/")
            .resolver
            .is_none()
    );

    let dynamic = server(&m, "dyn.example.com");
    let root = location(dynamic, "/");
    assert_eq!(
        root.pass.as_ref().unwrap().target,
        PassTarget::Variables {
            raw: "http://$upstream_host:8080$request_uri".into()
        }
    );
    let resolver = root.resolver.as_ref().unwrap();
    assert_eq!(resolver.line, 4);
    let r = &m.resolvers[0];
    assert_eq!(r.addresses, ["127.0.0.53", "[::1]:5353"]);
    assert_eq!(r.valid, secs(30.0));
    assert_eq!(r.scope, "server dyn.example.com");

    let (m, _) = nginx::model_from_str(
        "http { resolver 10.0.0.2; server { location / { proxy_pass http://127.0.0.1:3000$request_uri; } } }",
        Path::new("/n.conf"),
        Path::new("/p"),
    );
    let t = &m.forward_targets()[0];
    assert_eq!(
        t.address,
        Address::Tcp {
            host: "127.0.0.1".into(),
            port: 3000
        },
        "a literal address with variables only in the URI is still known"
    );
    assert_eq!(t.resolver.as_ref().unwrap().line, 1);
}

#[test]
fn nginx_return_503_and_the_maintenance_pattern() {
    let m = model(&site());
    let shop = server(&m, "shop.example.com");
    assert_eq!(shop.maintenance.len(), 1);
    let flag = &shop.maintenance[0];
    assert_eq!(flag.flag, "/var/www/maintenance.on");
    assert_eq!(flag.status, 503);
    assert!(!flag.when_absent);
    assert_eq!(flag.origin.line, 8);
    assert_eq!(
        shop.returns[0].condition.as_deref(),
        Some("-f /var/www/maintenance.on")
    );

    let up = location(server(&m, "dyn.example.com"), "/up/");
    assert_eq!(up.maintenance[0].flag, "/srv/app/ready");
    assert!(up.maintenance[0].when_absent);
    assert_eq!(up.returns[0].text.as_deref(), Some("starting"));

    let secure = location(server(&m, "secure.example.com"), "/");
    assert_eq!(secure.returns[0].status, 503);
    assert_eq!(secure.returns[0].condition, None);
    assert_eq!(
        location(server(&m, "shop.example.com"), "= /health").returns[0].status,
        200
    );
}

#[test]
fn nginx_limit_req_and_limit_conn() {
    let m = model(&site());
    let zone = &m.limit_req_zones[0];
    assert_eq!(zone.name, "perip");
    assert_eq!(zone.key, "$binary_remote_addr");
    assert_eq!(zone.size.as_deref(), Some("10m"));
    assert_eq!(zone.rate_per_sec, Some(10.0));
    assert_eq!(m.limit_conn_zones[0].name, "conns");

    let shop = server(&m, "shop.example.com");
    let api = location(shop, "/api/");
    assert_eq!(api.limit_req.len(), 1);
    assert_eq!(api.limit_req[0].zone, "perip");
    assert_eq!(api.limit_req[0].burst, Some(20));
    assert!(api.limit_req[0].nodelay);
    assert_eq!(api.limit_conn[0].zone, "conns");
    assert_eq!(api.limit_conn[0].limit, Some(10));
    // Inherited from http.
    assert_eq!(api.limit_req_status.as_ref().unwrap().value, 429);
    assert_eq!(api.limit_conn_status, None);
    // Nested location inherits the limits; a sibling has none.
    assert_eq!(location(shop, "/api/reports/").limit_req.len(), 1);
    assert!(location(shop, "/").limit_req.is_empty());
}

#[test]
fn nginx_upstreams_and_forward_targets() {
    let m = model(&site());
    let up = m.upstream("backend").unwrap();
    assert_eq!(up.servers.len(), 3);
    assert_eq!(up.servers[0].weight, Some(3));
    assert_eq!(up.servers[0].max_fails, Some(2));
    assert_eq!(up.servers[0].fail_timeout, secs(10.0));
    assert!(up.servers[1].backup);
    assert!(up.servers[2].down);
    assert_eq!(
        up.servers[2].address,
        Address::Unix {
            path: "/run/app/backend.sock".into()
        }
    );
    assert_eq!(up.keepalive.as_ref().unwrap().value, 16);

    let targets = m.forward_targets();
    let api: Vec<_> = targets
        .iter()
        .filter(|t| t.location.as_deref() == Some("/api/"))
        .collect();
    assert_eq!(api.len(), 3, "the upstream expands into its servers");
    assert!(api.iter().all(|t| t.protocol == Protocol::Https));
    assert!(api.iter().all(|t| t.upstream.as_deref() == Some("backend")));
    assert_eq!(
        api[0].address.socket_addr(),
        Some("127.0.0.1:3001".parse().unwrap())
    );
    assert!(api[1].backup && api[2].down);
    assert_eq!(api[0].server_origin.as_ref().unwrap().line, 28);
    assert_eq!(api[0].origin.line, 20);
    assert_eq!(api[0].timeouts.read.value, secs(1.0));
    assert_eq!(
        api[0].frontend,
        "server shop.example.com (listen 127.0.0.1:8080)"
    );
    // Every location with a pass gives at least one target.
    let with_pass: usize = m
        .servers
        .iter()
        .flat_map(|s| &s.locations)
        .filter(|l| l.pass.is_some())
        .count();
    assert_eq!(with_pass, 8);
    assert_eq!(targets.len(), with_pass + 2);
}

#[test]
fn nginx_error_logs_main_first_deduplicated() {
    let loaded = nginx::load(&site(), Path::new("/prefix"), Some("/var/log/e.log".into()));
    let m = loaded.model.unwrap();
    assert_eq!(
        m.error_logs(),
        [
            PathBuf::from("/prefix/logs/main-error.log"),
            PathBuf::from("/prefix/logs/http-error.log"),
            PathBuf::from("/prefix/logs/shop-error.log"),
        ],
        "stderr is skipped; the -e default only counts without a main error_log"
    );
    assert_eq!(
        m.access_logs[0].value,
        PathBuf::from("/prefix/logs/access.log")
    );
    let (m, _) = nginx::model_from_str("events {}", Path::new("/n.conf"), Path::new("/p"));
    let m = NginxModel {
        default_error_log: Some("/var/log/nginx/error.log".into()),
        ..m
    };
    assert_eq!(m.error_logs(), [PathBuf::from("/var/log/nginx/error.log")]);
}

#[test]
fn observation_round_trips_through_json() {
    let spec = ProxySpec {
        config: Some(site()),
        error_log: Some("/var/log/nginx/custom.log".into()),
        ..ProxySpec::default()
    };
    let obs = proxy::observe(&spec);
    assert_eq!(obs.kind, Some(ProxyKind::Nginx));
    assert_eq!(obs.config_source, Some(ConfigSource::Explicit));
    assert!(obs.nginx.is_some());
    let json = serde_json::to_string(&obs).unwrap();
    let back: ProxyObservation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, obs);
    assert_eq!(back.forward_targets(), obs.forward_targets());
    assert_eq!(
        obs.error_logs()[0],
        PathBuf::from("/var/log/nginx/custom.log")
    );
    // An empty observation serializes to an empty object.
    assert_eq!(
        serde_json::to_string(&ProxyObservation::default()).unwrap(),
        "{}"
    );
}

#[tokio::test]
async fn no_config_and_no_discovery_is_a_failure() {
    let obs = proxy::run(&ProxySpec::default(), &ProbeContext::default()).await;
    assert_eq!(obs.failure.unwrap().kind, FailureKind::NotFound);
    assert!(obs.kind.is_none());
}

#[tokio::test]
async fn discovery_finds_this_tests_nginx_master() {
    let upstream = support::refused_addr();
    let app = format!(
        "server {{\n    listen 127.0.0.1:{{port}};\n    server_name app.test;\n    location /api/ {{\n        proxy_read_timeout 7s;\n        proxy_pass http://127.0.0.1:{};\n    }}\n}}\n",
        upstream.port()
    );
    let nginx = support::Nginx::start_with(
        "include conf.d/*.conf;",
        &[("conf/conf.d/app.conf", app.as_str())],
    );
    assert_eq!(support::get_status(&nginx.url("/api/")), 502);

    let masters = proxy::discover_masters();
    let master = masters
        .iter()
        .find(|m| m.pid == nginx.pid())
        .unwrap_or_else(|| panic!("pid {} not among {masters:?}", nginx.pid()));
    assert_eq!(master.kind, ProxyKind::Nginx);
    assert_eq!(master.configs, [nginx.conf()]);
    assert_eq!(master.prefix.as_deref(), Some(nginx.prefix.path()));
    assert_eq!(
        master.error_log.as_deref(),
        Some(nginx.error_log().as_path())
    );
    assert!(master.cmdline.starts_with("nginx: master process"));

    let spec = ProxySpec {
        config: Some(nginx.conf()),
        discover: true,
        ..ProxySpec::default()
    };
    let obs = proxy::run(&spec, &ProbeContext::default()).await;
    assert!(obs.failure.is_none(), "{:?}", obs.failure);
    assert_eq!(obs.master.as_ref().unwrap().pid, nginx.pid());
    assert!(
        obs.changed_after_start.is_empty(),
        "{:?}",
        obs.changed_after_start
    );
    let m = obs.nginx.as_ref().unwrap();
    let s = server(m, "app.test");
    assert_eq!(
        s.listen[0].address,
        Address::Tcp {
            host: "127.0.0.1".into(),
            port: nginx.port
        }
    );
    let targets = obs.forward_targets();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].address.socket_addr(), Some(upstream));
    assert_eq!(targets[0].timeouts.read.value, secs(7.0));
    assert_eq!(
        obs.error_logs(),
        [nginx.error_log()],
        "the support config's main error_log"
    );

    // Change an included file after the start: a change not yet loaded.
    std::thread::sleep(std::time::Duration::from_millis(
        u64::try_from(proxy::CHANGE_SLACK_MS).unwrap() + 200,
    ));
    let included = nginx.prefix.path().join("conf/conf.d/app.conf");
    let filled = app.replace("{port}", &nginx.port.to_string());
    std::fs::write(&included, filled.replace("7s", "70s")).unwrap();
    let obs = proxy::run(&spec, &ProbeContext::default()).await;
    assert_eq!(obs.changed_after_start, [included]);
    // The model shows the file as it is now, not as nginx loaded it.
    assert_eq!(obs.forward_targets()[0].timeouts.read.value, secs(70.0));
}

#[test]
fn haproxy_fixture_passes_haproxy_c() {
    for cfg in ["haproxy/haproxy.cfg", "haproxy/limits.cfg"] {
        let out = std::process::Command::new("haproxy")
            .arg("-c")
            .arg("-f")
            .arg(fixtures().join(cfg))
            .output()
            .expect("haproxy must be installed");
        assert!(
            out.status.success(),
            "{cfg}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn haproxy_model_from_fixture() {
    let path = fixtures().join("haproxy/haproxy.cfg");
    let loaded = haproxy::load(std::slice::from_ref(&path));
    assert!(loaded.failure.is_none());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.files[0].path, path);
    let m = loaded.model.unwrap();
    assert_eq!(m.maxconn.as_ref().unwrap().value, 4096);
    assert_eq!(m.logs[0].value, "/dev/log local0");

    let www = &m.frontends[0];
    assert_eq!(www.name, "www");
    assert_eq!(www.binds.len(), 2);
    assert_eq!(
        www.binds[0].addresses,
        [Address::Tcp {
            host: "*".into(),
            port: 8080
        }]
    );
    assert_eq!(www.binds[1].addresses.len(), 2);
    assert_eq!(www.default_backend.as_ref().unwrap().value, "app");
    assert_eq!(www.use_backends[0].name, "api");
    assert_eq!(
        www.use_backends[0].condition.as_deref(),
        Some("if { path_beg /api }")
    );
    assert_eq!(
        www.timeouts.client.as_ref().unwrap().value,
        Millis(30_000.0)
    );

    let app = m.backend("app").unwrap();
    assert_eq!(app.mode.as_deref(), Some("http"));
    assert_eq!(app.servers.len(), 3);
    assert!(app.servers[0].check);
    assert!(app.servers[1].backup);
    assert!(app.servers[2].disabled);
    // Inherited from defaults, with the defaults' line.
    assert_eq!(
        app.timeouts.server.as_ref().unwrap().value,
        Millis(30_000.0)
    );
    assert_eq!(app.timeouts.server.as_ref().unwrap().origin.line, 11);

    let api = m.backend("api").unwrap();
    assert_eq!(
        api.timeouts.server.as_ref().unwrap().value,
        Millis(90_000.0)
    );
    assert_eq!(api.timeouts.server.as_ref().unwrap().origin.line, 25);
    assert_eq!(api.timeouts.connect.as_ref().unwrap().value, Millis(500.0));
    assert!(api.servers[0].ssl);
    assert_eq!(api.servers[0].params, ["verify", "none"]);
    assert_eq!(
        api.servers[1].address,
        Address::Unix {
            path: "/run/api.sock".into()
        }
    );

    // `listen` after the second defaults: tcp mode, its timeouts (2000 = ms).
    let db = m.backend("db").unwrap();
    assert!(db.listen);
    assert_eq!(db.mode.as_deref(), Some("tcp"));
    assert_eq!(db.timeouts.connect.as_ref().unwrap().value, Millis(2000.0));
    assert_eq!(db.timeouts.server.as_ref().unwrap().value, Millis(60_000.0));
}

#[test]
fn haproxy_forward_targets() {
    let path = fixtures().join("haproxy/haproxy.cfg");
    let m = haproxy::load(&[path]).model.unwrap();
    let targets = m.forward_targets();
    assert_eq!(targets.len(), 6);
    let api1 = targets.iter().find(|t| t.raw == "127.0.0.1:4000").unwrap();
    assert_eq!(api1.protocol, Protocol::Https);
    assert_eq!(api1.upstream.as_deref(), Some("api"));
    assert_eq!(api1.frontend, "frontend www");
    assert_eq!(api1.timeouts.read.value, secs(90.0));
    assert_eq!(api1.timeouts.connect.value, Some(Millis(500.0)));
    let pg = targets
        .iter()
        .find(|t| t.upstream.as_deref() == Some("db"))
        .unwrap();
    assert_eq!(pg.protocol, Protocol::Tcp);
    assert_eq!(pg.frontend, "listen db");
    assert!(targets.iter().any(|t| t.down && t.raw == "127.0.0.1:3002"));

    // Without any timeout set there is no limit at all.
    let (m, w) = haproxy::parse_str(
        "frontend f\n bind :80\n default_backend b\nbackend b\n mode http\n server s 10.0.0.1:80\n",
        Path::new("/h.cfg"),
    );
    assert!(w.is_empty(), "{w:?}");
    let t = &m.forward_targets()[0];
    assert_eq!(
        (t.timeouts.read.value, t.timeouts.read.origin.clone()),
        (None, None)
    );
    assert_eq!(t.protocol, Protocol::Http);
}

#[test]
fn haproxy_warnings_name_file_and_line() {
    let (_, w) = haproxy::parse_str(
        "defaults\n timeout connect fast\nfrontend f\n default_backend nope\n",
        Path::new("/h.cfg"),
    );
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("/h.cfg:2: invalid time"), "{w:?}");
    assert!(
        w[1].starts_with("/h.cfg:4: no backend named \"nope\""),
        "{w:?}"
    );
}

#[tokio::test]
async fn explicit_haproxy_config_without_discovery() {
    let spec = ProxySpec {
        config: Some(fixtures().join("haproxy/haproxy.cfg")),
        ..ProxySpec::default()
    };
    let obs = proxy::run(&spec, &ProbeContext::default()).await;
    assert_eq!(obs.kind, Some(ProxyKind::Haproxy));
    assert!(obs.master.is_none());
    assert_eq!(obs.forward_targets().len(), 6);
    assert!(obs.error_logs().is_empty());
}

// ------------------------------------------------------ the neutral model --

fn model_conf() -> PathBuf {
    fixtures().join("nginx/model/nginx.conf")
}

/// What the probe observes of a configuration (`*.cfg`: haproxy's), read
/// with prefix `/prefix` and without looking for masters (another test's
/// nginx may be running).
fn observe(config: &Path) -> ProxyObservation {
    let haproxy = config.extension().is_some_and(|e| e == "cfg");
    let mut obs = ProxyObservation {
        config: Some(config.to_path_buf()),
        ..ProxyObservation::default()
    };
    if haproxy {
        let loaded = haproxy::load(&[config.to_path_buf()]);
        assert!(loaded.failure.is_none(), "{:?}", loaded.failure);
        obs.kind = Some(ProxyKind::Haproxy);
        obs.haproxy = loaded.model;
        obs.warnings = loaded.warnings;
    } else {
        let loaded = load(config);
        assert!(loaded.failure.is_none(), "{:?}", loaded.failure);
        obs.kind = Some(ProxyKind::Nginx);
        obs.nginx = loaded.model;
        obs.warnings = loaded.warnings;
    }
    obs
}

#[test]
fn nginx_access_logs_formats_and_off() {
    let m = model(&model_conf());
    let timed = &m.log_formats["timed"];
    assert_eq!(
        timed.value,
        r#"$remote_addr [$time_local] "$request" $status $request_time $upstream_response_time"#,
        "the strings joined, escape= dropped"
    );
    assert_eq!(timed.origin.line, 14);
    assert_eq!(
        m.access_logs[0].value,
        PathBuf::from("/prefix/logs/access.log")
    );
    assert_eq!(m.access_logs[0].format, None);
    let shop = server(&m, "shop.example.com");
    assert_eq!(
        shop.access_logs[0].value,
        PathBuf::from("/prefix/logs/shop.access.log")
    );
    assert_eq!(shop.access_logs[0].format.as_deref(), Some("timed"));
    assert_eq!(shop.access_logs.len(), 1, "its own replace http's");
    let health = location(shop, "= /health");
    assert_eq!(health.access_log_off.as_ref().unwrap().line, 45);
    // `access_log off` drops the inherited log.
    let quiet = server(&m, "quiet.example.com");
    assert!(quiet.access_logs.is_empty(), "{:?}", quiet.access_logs);
    assert_eq!(quiet.access_log_off.as_ref().unwrap().line, 52);
    // http-level limits are kept for the servers that inherit them.
    assert_eq!(m.http_limit_req[0].zone, "persite");
    assert_eq!(quiet.limit_req[0].zone, "persite");
}

#[test]
fn model_of_nginx_limits_maintenance_and_logs() {
    let obs = observe(&model_conf());
    let m = obs.model().unwrap();
    let file = model_conf();
    let at = |line| Origin::new(&file, line);
    assert_eq!(m.kind, ProxyKind::Nginx);
    assert_eq!(m.dialect, Dialect::Nginx);
    assert_eq!(m.config.as_deref(), Some(file.as_path()));
    assert_eq!(m.targets, obs.forward_targets());
    assert_eq!(m.error_logs, obs.error_logs());
    assert_eq!(m.stats_socket, None);
    let shop = "server shop.example.com (listen 127.0.0.1:8080)";
    let quiet = "server quiet.example.com (listen 127.0.0.1:8081)";
    assert_eq!(
        m.limits,
        [
            Limit {
                kind: LimitKind::Rate,
                zone: "persite".into(),
                rate: Some("100r/m".into()),
                burst: Some(50),
                connections: None,
                scope: "http".into(),
                origin: at(20),
            },
            Limit {
                kind: LimitKind::Connections,
                zone: "addr".into(),
                rate: None,
                burst: None,
                connections: Some(20),
                scope: shop.into(),
                origin: at(26),
            },
            Limit {
                kind: LimitKind::Rate,
                zone: "perip".into(),
                rate: Some("10r/s".into()),
                burst: Some(20),
                connections: None,
                scope: format!("{shop}, location /api/"),
                origin: at(37),
            },
        ],
        "each directive once, where it is written"
    );
    assert_eq!(
        m.maintenance,
        [
            MaintenanceSwitch {
                flag: Some("/var/www/maintenance.on".into()),
                when_absent: false,
                status: 503,
                scope: shop.into(),
                origin: at(27),
            },
            MaintenanceSwitch {
                flag: None,
                when_absent: false,
                status: 503,
                scope: format!("{quiet}, location /"),
                origin: at(54),
            },
            MaintenanceSwitch {
                flag: Some("/srv/app/ready".into()),
                when_absent: true,
                status: 503,
                scope: format!("{quiet}, location /ready"),
                origin: at(57),
            },
        ],
        "a flag holding variables cannot be checked: left out"
    );
    let logs: Vec<(&Path, Option<&str>)> = m
        .access_logs
        .iter()
        .map(|a| (a.path.as_path(), a.format.as_deref()))
        .collect();
    assert_eq!(
        logs,
        [
            (Path::new("/prefix/logs/access.log"), Some("combined")),
            (Path::new("/prefix/logs/shop.access.log"), Some("timed")),
        ]
    );
    assert!(
        m.access_logs[0]
            .pattern
            .as_deref()
            .unwrap()
            .starts_with("$remote_addr - $remote_user [$time_local]")
    );
    assert!(
        m.access_logs[1]
            .pattern
            .as_deref()
            .unwrap()
            .ends_with("$upstream_response_time")
    );
    assert_eq!(m.access_logs[1].origin, Some(at(25)));
}

#[test]
fn model_of_the_site_fixture_keeps_what_the_observation_says() {
    let obs = observe(&site());
    let m = obs.model().unwrap();
    assert_eq!(m.targets, obs.forward_targets());
    assert_eq!(m.warnings, obs.warnings);
    // limit_req and limit_conn of /api/ (the nested location inherits them).
    let zones: Vec<(&str, LimitKind)> =
        m.limits.iter().map(|l| (l.zone.as_str(), l.kind)).collect();
    assert_eq!(
        zones,
        [
            ("perip", LimitKind::Rate),
            ("conns", LimitKind::Connections)
        ]
    );
    // In the order servers are included: dyn's `!-f` on /up/, shop's
    // flag, secure's unconditional 503.
    let switches: Vec<(Option<&Path>, bool)> = m
        .maintenance
        .iter()
        .map(|s| (s.flag.as_deref(), s.when_absent))
        .collect();
    assert_eq!(
        switches,
        [
            (Some(Path::new("/srv/app/ready")), true),
            (Some(Path::new("/var/www/maintenance.on")), false),
            (None, false),
        ]
    );
    assert_eq!(m.access_logs.len(), 1);
}

#[test]
fn model_of_haproxy_limits_and_stats_socket() {
    let path = fixtures().join("haproxy/limits.cfg");
    let obs = observe(&path);
    let m = obs.model().unwrap();
    assert_eq!(m.kind, ProxyKind::Haproxy);
    assert_eq!(m.dialect, Dialect::Haproxy);
    assert_eq!(
        m.stats_socket.as_deref(),
        Some(Path::new("/run/haproxy/admin.sock")),
        "the first unix socket; the TCP one is not a path"
    );
    let limits: Vec<(LimitKind, Option<u64>, &str, u32)> = m
        .limits
        .iter()
        .map(|l| (l.kind, l.connections, l.scope.as_str(), l.origin.line))
        .collect();
    assert_eq!(
        limits,
        [
            (LimitKind::Connections, Some(4096), "global", 4),
            (LimitKind::Connections, Some(1000), "defaults", 10),
            (LimitKind::Connections, Some(2000), "frontend www", 17),
            (
                LimitKind::Connections,
                Some(50),
                "backend app, server app1",
                25
            ),
        ],
        "frontend admin inherits the defaults' maxconn: listed once"
    );
    assert!(
        m.limits
            .iter()
            .all(|l| l.zone.is_empty() && l.rate.is_none())
    );
    assert!(m.access_logs.is_empty() && m.maintenance.is_empty());
    assert_eq!(m.targets, obs.forward_targets());
    assert!(m.error_logs.is_empty());
    // The fixture without a stats socket.
    let plain = observe(&fixtures().join("haproxy/haproxy.cfg"))
        .model()
        .unwrap();
    assert_eq!(plain.stats_socket, None);
    assert_eq!(plain.targets.len(), 6);
}

#[test]
fn no_configuration_no_model() {
    assert_eq!(ProxyObservation::default().model(), None);
}

/// Observations recorded by the root crate's lab before the model existed.
fn recorded(name: &str) -> (serde_json::Value, ProxyObservation) {
    let text =
        std::fs::read_to_string(fixtures().join(format!("proxy/recorded-{name}.json"))).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let obs: ProxyObservation = serde_json::from_str(&text).unwrap();
    (value, obs)
}

#[test]
fn recorded_observations_serialize_as_before_and_give_the_same_model() {
    for name in ["rate_limited", "maintenance_flag"] {
        let (value, obs) = recorded(name);
        assert_eq!(
            serde_json::to_value(&obs).unwrap(),
            value,
            "{name}: serialization changed"
        );
        let again: ProxyObservation =
            serde_json::from_value(serde_json::to_value(&obs).unwrap()).unwrap();
        assert_eq!(again.model(), obs.model(), "{name}");
    }
    let (_, obs) = recorded("rate_limited");
    let m = obs.model().unwrap();
    assert_eq!(m.limits.len(), 1);
    let l = &m.limits[0];
    assert_eq!((l.kind, l.zone.as_str()), (LimitKind::Rate, "lab"));
    assert_eq!(l.rate.as_deref(), Some("1r/m"));
    assert!(l.scope.ends_with(", location /"), "{}", l.scope);
    let target = &m.targets[0];
    assert_eq!(
        target.address.socket_addr(),
        Some("127.0.0.1:42941".parse().unwrap())
    );
    let (_, obs) = recorded("maintenance_flag");
    let m = obs.model().unwrap();
    assert!(
        m.maintenance
            .iter()
            .any(|s| s.flag.is_some() && s.status == 503),
        "{:?}",
        m.maintenance
    );
}

#[test]
fn nginx_stream_servers_forward_tcp_and_udp_with_their_timeouts() {
    let conf = fixtures().join("nginx/stream/nginx.conf");
    let m = model(&conf);
    let at = |line| Some(Origin::new(&conf, line));
    let targets: Vec<_> = m
        .forward_targets()
        .into_iter()
        .filter(|t| t.location.is_none())
        .collect();
    let summary: Vec<(String, Protocol, String, Option<String>)> = targets
        .iter()
        .map(|t| {
            (
                t.frontend.clone(),
                t.protocol,
                t.address.to_string(),
                t.upstream.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "stream server (listen 5432)".to_string(),
                Protocol::Tcp,
                "127.0.0.1:5432".to_string(),
                Some("pg".to_string())
            ),
            (
                "stream server (listen 5432)".to_string(),
                Protocol::Tcp,
                "127.0.0.1:5433".to_string(),
                Some("pg".to_string())
            ),
            (
                "stream server (listen 127.0.0.1:5353 udp)".to_string(),
                Protocol::Udp,
                "127.0.0.1:53".to_string(),
                None
            ),
            (
                "stream server (listen 6379)".to_string(),
                Protocol::Tcp,
                "unix:/run/redis.sock".to_string(),
                None
            ),
        ]
    );
    assert!(targets[1].backup);
    // proxy_connect_timeout 5s from stream, proxy_timeout 1h from the server.
    let pg = &targets[0].timeouts;
    assert_eq!(
        (pg.connect.value, pg.connect.origin.clone()),
        (secs(5.0), at(7))
    );
    assert_eq!(
        (pg.read.value, pg.read.origin.clone()),
        (secs(3600.0), at(17))
    );
    assert_eq!(pg.send.value, secs(3600.0));
    // The UDP server inherits the connect timeout and keeps the 10 min default.
    let dns = &targets[2].timeouts;
    assert_eq!(dns.connect.origin, at(7));
    assert_eq!(
        (dns.read.value, dns.read.origin.clone()),
        (secs(600.0), None)
    );
    assert_eq!(targets[3].timeouts.connect.value, secs(1.0));
    assert_eq!(
        Dialect::Nginx.timeout_directive(proxy::TimeoutKind::Read, Protocol::Udp),
        "proxy_timeout"
    );
}

#[test]
fn nginx_passes_inside_if_and_limit_except_are_conditional_targets() {
    let conf = fixtures().join("nginx/stream/nginx.conf");
    let m = model(&conf);
    let targets: Vec<(String, String, bool)> = m
        .forward_targets()
        .into_iter()
        .filter_map(|t| Some((t.location?, t.address.to_string(), t.conditional)))
        .collect();
    assert_eq!(
        targets,
        [
            ("/".to_string(), "127.0.0.1:8082".to_string(), false),
            ("/".to_string(), "127.0.0.1:8081".to_string(), true),
            ("/admin/".to_string(), "127.0.0.1:8084".to_string(), false),
            ("/admin/".to_string(), "127.0.0.1:8083".to_string(), true),
        ]
    );
    let root = location(server(&m, "app"), "/");
    let c = &root.conditional_passes[0];
    assert_eq!(c.condition, "if ($request_method = POST)");
    assert!(matches!(&c.pass.target, PassTarget::Upstream { name } if name == "writers"));
    // The location's proxy_read_timeout applies inside its if.
    assert_eq!(c.timeouts.read.value, secs(30.0));
    // nginx allows only proxy_pass in limit_except.
    let (m, warnings) = nginx::model_from_str(
        "http { server { location / { limit_except GET { fastcgi_pass 127.0.0.1:9000; } } } }",
        Path::new("/x.conf"),
        Path::new("/"),
    );
    assert!(m.forward_targets().is_empty());
    assert_eq!(
        warnings,
        ["/x.conf:1: \"fastcgi_pass\" is not allowed in limit_except (nginx refuses it)"]
    );
}

#[test]
fn nginx_lua_blocks_are_opaque_and_what_follows_is_read() {
    let text = r#"http {
  server {
    listen 80;
    location /lua {
      set_by_lua_block $x { return "}" }
      access_by_lua_block {
        local a = '{ }}' -- a comment with } and {
        local b = [[ } ]] .. [==[ ]] } ]==]
        --[[ a long
             comment } ]]
        if a then ngx.say("\"}") end
      }
      proxy_pass http://127.0.0.1:3000;
    }
  }
  server {
    listen 81;
    location / { content_by_lua_block { ngx.say("}") } }
    location /after { proxy_pass http://127.0.0.1:3001; }
  }
}
"#;
    let (m, warnings) = nginx::model_from_str(text, Path::new("/l.conf"), Path::new("/"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let targets: Vec<String> = m
        .forward_targets()
        .iter()
        .map(|t| format!("{} {}", t.origin, t.address))
        .collect();
    assert_eq!(
        targets,
        ["/l.conf:13 127.0.0.1:3000", "/l.conf:19 127.0.0.1:3001"]
    );
    let (d, _) = nginx::parse(text, Path::new("/l.conf"));
    let lua = &d[0].children()[0].children()[1].children()[1];
    assert_eq!(lua.name, "access_by_lua_block");
    assert!(lua.args[0].contains("ngx.say"), "{:?}", lua.args);
    let (_, warnings) = nginx::parse("content_by_lua_block { ngx.say('x')", Path::new("/u.conf"));
    assert!(
        warnings
            .iter()
            .any(|w| w == "/u.conf:1: unterminated Lua block"),
        "{warnings:?}"
    );
}

#[test]
fn nginx_deep_nesting_is_a_located_warning_on_a_small_stack() {
    // 512 KiB of stack, a quarter of what the blocking pool's threads get.
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            for (name, text) in crate::deep_configs::deep_configs(5_000) {
                let file = PathBuf::from(format!("/deep/{name}.conf"));
                let (directives, mut warnings) = nginx::parse(&text, &file);
                let (m, more) = NginxModel::build(&directives, &file, Path::new("/"));
                warnings.extend(more);
                let limit = format!("nesting deeper than {}", nginx::MAX_NESTING);
                assert!(
                    warnings
                        .iter()
                        .any(|w| w.starts_with(&format!("{}:", file.display()))
                            && w.contains(&limit)),
                    "{name}: {:?}",
                    &warnings[..warnings.len().min(3)]
                );
                if name == "locations" {
                    assert_eq!(m.servers[0].locations.len(), nginx::MAX_NESTING - 2);
                    assert!(m.forward_targets().is_empty());
                }
                drop((directives, m));
            }
        })
        .unwrap();
    handle.join().unwrap();
}

#[test]
fn nginx_quoted_lua_block_directive_is_lua_too() {
    let text = "http { \"rewrite_by_lua_block\" { a = { 1 } } server { listen 80; location / { proxy_pass http://127.0.0.1:1; } } }";
    let (m, warnings) = nginx::model_from_str(text, Path::new("/q.conf"), Path::new("/"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(m.forward_targets().len(), 1);
}

/// A real Apache (the test's own, `-D FOREGROUND`) is discovered with its
/// `-f` and `-D`, and its configuration — an `IncludeOptional` glob, a
/// `Define`, `<IfModule>`/`<IfDefine>`, a vhost, a balancer, a `FastCGI`
/// handler — gives the targets and timeouts Apache itself uses: the
/// refused backend answers 503 and Apache's log names it.
#[tokio::test]
async fn discovery_finds_this_tests_apache_master() {
    let refused = support::refused_addr().port();
    let apache = support::Apache::start(&format!(
        "Define BACKEND 127.0.0.1:{refused}\nTimeout 300\nIncludeOptional {{root}}/sites/*.conf\nIncludeOptional {{root}}/none/*.conf\n"
    ));
    let sites = apache.root.path().join("sites");
    std::fs::create_dir_all(&sites).unwrap();
    std::fs::write(
        sites.join("app.conf"),
        format!(
            "<IfModule proxy_module>\n  ProxyTimeout 7\n</IfModule>\n<IfDefine !FOREGROUND>\n  ProxyTimeout 1\n</IfDefine>\n\
             <Proxy \"balancer://pool\">\n  BalancerMember http://127.0.0.1:{refused} retry=5\n  BalancerMember http://127.0.0.1:{refused} status=+H\n</Proxy>\n\
             ProxyPass /static !\nProxyPass /pool balancer://pool/\nProxyPass / http://${{BACKEND}}/ connectiontimeout=2\n\
             <LocationMatch \"\\.php$\">\n  SetHandler \"proxy:unix:{}/php.sock|fcgi://localhost/\"\n</LocationMatch>\n",
            apache.root.path().display()
        ),
    )
    .unwrap();
    // The site was written after the start: ask Apache to read it, the way
    // an operator would, and check Apache accepts it.
    let check = std::process::Command::new("apache2")
        .arg("-f")
        .arg(apache.conf())
        .args(["-D", "FOREGROUND", "-t"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        std::process::Command::new("kill")
            .args(["-USR1", &apache.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let mut status = 0;
    for _ in 0..100 {
        status = support::get_status(&apache.url("/x"));
        if status == 503 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(status, 503, "Apache answers a refused backend with 503");
    assert!(
        apache.error_log_text().contains(&format!(
            "AH00957: http: attempt to connect to 127.0.0.1:{refused}"
        )),
        "{}",
        apache.error_log_text()
    );

    let masters = proxy::discover_masters();
    let master = masters
        .iter()
        .find(|m| m.pid == apache.pid())
        .unwrap_or_else(|| panic!("pid {} not among {masters:?}", apache.pid()));
    assert_eq!(master.kind, ProxyKind::Apache);
    assert_eq!(master.configs, [apache.conf()]);
    assert_eq!(master.defines, ["FOREGROUND"]);
    assert_eq!(
        masters
            .iter()
            .filter(|m| m.kind == ProxyKind::Apache)
            .count(),
        1,
        "Apache's children are not masters: {masters:?}"
    );

    let spec = ProxySpec {
        kind: Some(ProxyKind::Apache),
        discover: true,
        ..ProxySpec::default()
    };
    let obs = proxy::run(&spec, &ProbeContext::default()).await;
    assert!(obs.failure.is_none(), "{:?}", obs.failure);
    assert_eq!(obs.kind, Some(ProxyKind::Apache));
    assert_eq!(obs.master.as_ref().unwrap().pid, apache.pid());
    assert!(obs.warnings.is_empty(), "{:?}", obs.warnings);
    let model = obs.model().unwrap();
    assert_eq!(model.error_logs, [apache.error_log()]);
    assert_eq!(model.access_logs.len(), 1);
    assert!(
        model.access_logs[0]
            .pattern
            .as_deref()
            .unwrap()
            .ends_with("%D")
    );
    assert_eq!(model.listeners.len(), 1);
    let t = &model.targets;
    assert_eq!(t.len(), 4, "{t:#?}");
    let backend = Address::Tcp {
        host: "127.0.0.1".into(),
        port: refused,
    };
    let root_pass = t
        .iter()
        .find(|t| t.location.as_deref() == Some("/"))
        .unwrap();
    assert_eq!(root_pass.address, backend);
    assert_eq!(
        root_pass.timeouts.read.value,
        Some(Millis(7000.0)),
        "ProxyTimeout, not Timeout"
    );
    assert_eq!(root_pass.timeouts.connect.value, Some(Millis(2000.0)));
    let pool: Vec<_> = t.iter().filter(|t| t.upstream.is_some()).collect();
    assert_eq!(pool.len(), 2);
    assert!(!pool[0].backup && pool[1].backup);
    let php = t.iter().find(|t| t.protocol == Protocol::Fastcgi).unwrap();
    assert_eq!(
        php.address,
        Address::Unix {
            path: apache.root.path().join("php.sock")
        }
    );
    assert_eq!(
        model.dialect.check_and_reload(model.config.as_deref()),
        format!(
            "apachectl -f {0} -t && apachectl -f {0} -k graceful",
            apache.conf().display()
        )
    );
}

/// Debian's own layout, as the `apache2` package installs it: `envvars`
/// gives `${APACHE_LOG_DIR}`, `IncludeOptional mods-enabled/*.load` the
/// modules, `apache2.conf` sets `Timeout 300`, `ports.conf` `Listen 80`.
#[test]
fn debians_installed_apache2_conf_reads_without_warnings() {
    let main = Path::new("/etc/apache2/apache2.conf");
    assert!(main.exists(), "scripts/test installs apache2");
    let start = proxy::discover::apache_start(main, None);
    assert_eq!(start.env["APACHE_LOG_DIR"], "/var/log/apache2");
    let loaded = proxy::apache::load(main, &start);
    assert!(loaded.failure.is_none(), "{:?}", loaded.failure);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let m = loaded.model.unwrap();
    assert!(loaded.files.len() > 5, "{:?}", loaded.files);
    assert!(m.modules.contains("mpm_event_module") || m.modules.contains("mpm_prefork_module"));
    assert_eq!(m.main.timeout.as_ref().map(|t| t.value), Some(300));
    assert!(
        m.error_logs()
            .contains(&PathBuf::from("/var/log/apache2/error.log")),
        "{:?}",
        m.error_logs()
    );
    assert!(
        m.listens
            .iter()
            .any(|l| matches!(l.address, Address::Tcp { port: 80, .. })),
        "{:?}",
        m.listens
    );
}
