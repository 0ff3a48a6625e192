//! nginx configurations nested absurdly deep, shared by the reader's test
//! and the binary's: they must give a located warning, never a stack overflow.

use std::fmt::Write as _;

/// `depth` nested `location`s, `depth` nested anonymous blocks, and `http {`
/// followed by `depth` lines of `{`: what pointing `[proxy] config` at the
/// wrong file gives.
pub fn deep_configs(depth: usize) -> [(&'static str, String); 3] {
    let mut locations = String::from("http { server { listen 8080;\n");
    for i in 0..depth {
        let _ = writeln!(locations, "location /l{i} {{");
    }
    locations.push_str("proxy_pass http://127.0.0.1:1;\n");
    locations.push_str(&"}\n".repeat(depth));
    locations.push_str("} }\n");
    let blocks = format!(
        "http {{\n{}{}}}\n",
        "a {\n".repeat(depth),
        "}\n".repeat(depth)
    );
    let braces = format!("http {{\n{}", "{\n".repeat(depth));
    [
        ("locations", locations),
        ("blocks", blocks),
        ("braces", braces),
    ]
}
