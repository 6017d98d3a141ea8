//! The layer table of ARCHITECTURE.md, enforced: reads every file under `src/`, follows its
//! `crate::…`, `super::…` and `llmtop::…` paths, and fails on an import that climbs a layer, on
//! an import cycle between modules, and on `clap` or `ratatui` below the front ends.
//!
//! Plain Rust over the source text (no tool, no dependency), so it also runs as
//! `rustc --edition 2024 --test tests/it/architecture.rs` without a build of the crate.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the bottom up: a module may name its own layer and the ones below, never above.
const LAYERS: [(&str, u8); 8] = [
    ("base", 0),
    ("model", 1),
    ("io", 2),
    // Test and fuzz support sits beside the producers; nothing in the shipped code names it.
    ("support", 2),
    ("runtime", 3),
    ("front", 4),
    ("app", 5),
    ("main", 6),
];

/// Layers whose code must not name a front-end crate (the front ends and the app may).
const NO_FRONT_END_CRATES: [&str; 4] = ["base", "model", "io", "runtime"];
/// The model is plain data and math.
const NO_RUNTIME_IN_MODEL: [&str; 3] = ["tokio::", "ratatui::", "clap::"];

fn src_dir() -> PathBuf {
    let root =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from);
    root.join("src")
}

/// `src/io/probe/mod.rs` → `io::probe`; `src/lib.rs` → `` (the crate root); `src/main.rs` → `main`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code without comments and string literals, so a path in a doc line or a message counts
/// for nothing.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            i += end;
        } else if let Some(raw) = rest.strip_prefix("r#\"") {
            let end = raw.find("\"#").map_or(rest.len(), |e| e + 5);
            out.push_str("\"\"");
            i += end;
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() {
                match rest.as_bytes()[j] {
                    b'\\' => j += 2,
                    b'"' => break,
                    _ => j += 1,
                }
            }
            out.push_str("\"\"");
            i += (j + 1).min(rest.len());
        } else if rest.starts_with("'\"'") {
            i += 3;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Every path the code names that starts with `root::` (e.g. `crate`), as its segments.
fn paths_after(code: &str, root: &str) -> Vec<Vec<String>> {
    paths_at(code, root).into_iter().map(|(_, p)| p).collect()
}

/// [`paths_after`] with the byte offset where each path starts.
fn paths_at(code: &str, root: &str) -> Vec<(usize, Vec<String>)> {
    let needle = format!("{root}::");
    let mut out = Vec::new();
    for (at, _) in code.match_indices(&needle) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') || code[..at].ends_with("::") {
            continue;
        }
        let mut segments = Vec::new();
        let mut rest = &code[at + needle.len()..];
        loop {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                if rest.starts_with('{') && segments.is_empty() {
                    // A group: `crate::{a, b::c}` names each of its members.
                    segments.push("{".to_string());
                }
                break;
            }
            rest = &rest[name.len()..];
            segments.push(name);
            match rest.strip_prefix("::") {
                Some(r) => rest = r,
                None => break,
            }
        }
        out.push((at, segments));
    }
    out
}

/// For each byte of `code`, how many inline `mod name { … }` blocks enclose it (a `super::`
/// inside `mod tests` names the file's own module first).
fn inline_mod_depth(code: &str) -> Vec<u8> {
    let bytes = code.as_bytes();
    let mut depth = vec![0u8; bytes.len()];
    let mut opened: Vec<bool> = Vec::new();
    let mut current = 0u8;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' => {
                let before = code[..i].trim_end();
                let word_start = before
                    .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(0, |p| p + 1);
                let is_mod = before[..word_start].trim_end().ends_with("mod")
                    && !before[word_start..].is_empty();
                opened.push(is_mod);
                if is_mod {
                    current += 1;
                }
            }
            b'}' if opened.pop() == Some(true) => current = current.saturating_sub(1),
            _ => {}
        }
        depth[i] = current;
    }
    depth
}

/// The longest module of the crate that `segments` (from the crate root) starts with.
fn resolve(modules: &BTreeSet<String>, segments: &[String]) -> Option<String> {
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|m| modules.contains(m))
}

fn layer_of(module: &str) -> Option<(&'static str, u8)> {
    let top = module.split("::").next().unwrap_or("");
    LAYERS.iter().copied().find(|(name, _)| *name == top)
}

struct Crate {
    /// module → (file, code)
    files: BTreeMap<String, (PathBuf, String)>,
    /// module → the modules it names
    edges: BTreeMap<String, BTreeSet<String>>,
    problems: Vec<String>,
}

fn read_crate() -> Crate {
    let src = src_dir();
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths.sort();
    assert!(
        paths.len() > 20,
        "found only {} files under {}",
        paths.len(),
        src.display()
    );
    let mut files = BTreeMap::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        files.insert(module_of(&src, path), (path.clone(), code_only(&text)));
    }
    let modules: BTreeSet<String> = files.keys().filter(|m| *m != "main").cloned().collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (module, (path, code)) in &files {
        let mut named = Vec::new();
        let root = if module == "main" { "llmtop" } else { "crate" };
        named.extend(paths_after(code, root));
        // `super::x` from `a::b::c` (c.rs or c/mod.rs) names `a::b::x`.
        let depth = inline_mod_depth(code);
        for (at, segments) in paths_at(code, "super") {
            let mut full: Vec<String> = module.split("::").map(str::to_string).collect();
            // Inside `mod tests { … }` the first `super` is the file's own module.
            let inline = usize::from(depth.get(at).copied().unwrap_or(0));
            if inline == 0 {
                full.pop();
            }
            let mut rest = segments.as_slice();
            let mut skip_inline = inline.saturating_sub(1);
            while skip_inline > 0 && rest.first().is_some_and(|s| s == "super") {
                rest = &rest[1..];
                skip_inline -= 1;
            }
            while rest.first().is_some_and(|s| s == "super") {
                full.pop();
                rest = &rest[1..];
            }
            // `super::{a, b}` names the parent itself (or its children, part of it).
            full.extend(rest.iter().filter(|s| *s != "{").cloned());
            named.push(full);
        }
        for segments in named {
            if segments.iter().any(|s| s == "{") {
                problems.push(format!(
                    "{}: a grouped import `{root}::{{…}}` hides which layers it names; write one path per module",
                    path.display()
                ));
                continue;
            }
            if let Some(target) = resolve(&modules, &segments)
                && &target != module
                // A module's own children are part of it (`pub mod x;` plus `x::f()`).
                && !target.starts_with(&format!("{module}::"))
                && !(module.is_empty())
            {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    Crate {
        files,
        edges,
        problems,
    }
}

#[test]
fn no_import_climbs_a_layer() {
    let krate = read_crate();
    let mut problems = krate.problems.clone();
    for (from, targets) in &krate.edges {
        let Some((from_layer, from_rank)) = layer_of(from) else {
            problems.push(format!("{from}: not in any layer of the table"));
            continue;
        };
        for to in targets {
            let Some((to_layer, to_rank)) = layer_of(to) else {
                continue;
            };
            if to_rank > from_rank {
                problems.push(format!(
                    "{from} ({from_layer}) imports {to} ({to_layer}), a higher layer"
                ));
            }
            if to_layer == "support" && from_layer != "support" {
                problems.push(format!(
                    "{from} imports {to}: test support is not for shipped code"
                ));
            }
            // The two front ends read the model; neither reads the other.
            let front = |m: &str| m.split("::").nth(1).map(str::to_string);
            if from_layer == "front" && to_layer == "front" && front(from) != front(to) {
                problems.push(format!(
                    "{from} imports {to}: front ends never import each other"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layer violations:\n  {}",
        problems.join("\n  ")
    );
}

/// Strongly connected components of the module graph with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(targets) = s.edges.get(v) {
            for w in targets {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[w].min(s.low[v]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.index[w].min(s.low[v]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

#[test]
fn the_module_graph_has_no_cycle() {
    let krate = read_crate();
    let found = cycles(&krate.edges);
    let text: Vec<String> = found.iter().map(|c| c.join(" ↔ ")).collect();
    assert!(found.is_empty(), "import cycles:\n  {}", text.join("\n  "));
}

#[test]
fn no_front_end_crate_below_the_front_ends() {
    let krate = read_crate();
    let mut problems = Vec::new();
    for (module, (path, code)) in &krate.files {
        let Some((layer, _)) = layer_of(module) else {
            continue;
        };
        if NO_FRONT_END_CRATES.contains(&layer) {
            for name in ["clap::", "ratatui::", "clap_complete::", "clap_mangen::"] {
                if paths_after_word(code, name) {
                    problems.push(format!("{} names {name}", path.display()));
                }
            }
        }
        if layer == "model" {
            for name in NO_RUNTIME_IN_MODEL {
                if paths_after_word(code, name) {
                    problems.push(format!("{} (model) names {name}", path.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn paths_after_word(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        !code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The checker itself: a climb, a cycle and a grouped import it must see.
#[test]
fn the_checker_sees_climbs_cycles_and_groups() {
    let code = code_only("use crate::a::b; // crate::z::q\nlet s = \"crate::y\"; crate::{c, d}");
    let found = paths_after(&code, "crate");
    assert_eq!(
        found,
        vec![
            vec!["a".to_string(), "b".to_string()],
            vec!["{".to_string()]
        ]
    );
    let mut edges = BTreeMap::new();
    edges.insert("x".to_string(), BTreeSet::from(["y".to_string()]));
    edges.insert("y".to_string(), BTreeSet::from(["z".to_string()]));
    edges.insert("z".to_string(), BTreeSet::from(["x".to_string()]));
    edges.insert("w".to_string(), BTreeSet::from(["x".to_string()]));
    assert_eq!(
        cycles(&edges),
        vec![vec!["x".to_string(), "y".to_string(), "z".to_string()]]
    );
    assert_eq!(layer_of("front::tui::app").map(|l| l.1), Some(4));
    let modules = BTreeSet::from(["io::probe".to_string(), "io::probe::sse".to_string()]);
    let path: Vec<String> = ["io", "probe", "sse", "parse"].map(String::from).to_vec();
    assert_eq!(resolve(&modules, &path).as_deref(), Some("io::probe::sse"));
}
