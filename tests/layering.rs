//! The crate's layering, checked on its source: which top-level module may import which (the
//! table below, also stated in `src/lib.rs`), and no import cycle among the files of one
//! directory (`alex/capacity.rs` importing `alex/data_node.rs` importing it back, say).
//!
//! Imports are read from the source text: every `crate::a::b` path (grouped `crate::{a, b::c}`
//! included) and every `super::x` path, outside comments and outside a file's trailing
//! `#[cfg(test)] mod tests` block. Test-only files (`tests.rs`, `*_tests.rs`) and the
//! programs (`src/bin`) are left out: tests may reach anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module may import. `bench` (the benchmark harness, `tools` only) may
/// import anything; `db` is the one module that knows every tier.
const MAY_IMPORT: &[(&str, &[&str])] = &[
    ("machine", &[]),
    ("location", &[]),
    ("error", &[]),
    ("keys", &["error"]),
    ("stats", &[]),
    ("write_batch", &["error", "keys"]),
    ("alex", &["machine"]),
    ("trie", &["alex", "machine"]),
    ("cache", &["machine", "stats"]),
    (
        "hot_tier",
        &["error", "keys", "location", "machine", "stats"],
    ),
    (
        "options",
        &["cache", "error", "hot_tier", "keys", "location"],
    ),
    (
        "rocks",
        &["error", "keys", "options", "stats", "write_batch"],
    ),
    (
        "db",
        &[
            "alex",
            "cache",
            "error",
            "hot_tier",
            "keys",
            "location",
            "machine",
            "options",
            "rocks",
            "stats",
            "trie",
            "write_batch",
        ],
    ),
];

type Module = Vec<String>;

/// Every non-test source file of the library, by module path.
fn modules() -> BTreeMap<Module, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut dirs: Vec<PathBuf> = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path != root.join("bin") {
                    dirs.push(path);
                }
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let last = parts.last().cloned().unwrap_or_default();
            if path.extension().is_none_or(|e| e != "rs") || last.ends_with("tests") {
                continue;
            }
            if last == "mod" {
                parts.pop();
            }
            if parts == ["lib"] {
                continue;
            }
            out.insert(parts, code_of(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    out
}

/// The file's code without comments and without its trailing `#[cfg(test)] mod tests` block.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t == "#[cfg(test)]" && lines.peek().is_some_and(|n| n.trim() == "mod tests {") {
            break;
        }
        let without_comment = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        code.push_str(without_comment);
        code.push('\n');
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
}

/// The lowercase path that starts at `s` (`a::b::c`), as segments.
fn path_at(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        out.push(rest[..end].to_string());
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(r) if r.starts_with(is_ident) => rest = r,
            _ => break,
        }
    }
    out
}

/// Every module path `code` names through `prefix` (`crate::` or `super::`), groups expanded.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let p = path_at(item.trim());
                if !p.is_empty() {
                    out.push(p);
                }
            }
        } else {
            let p = path_at(rest);
            if !p.is_empty() {
                out.push(p);
            }
        }
    }
    out
}

/// The module a path names: its longest prefix that is a source file.
fn resolve(files: &BTreeMap<Module, String>, path: &[String]) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| files.contains_key(m))
}

/// `(importer, imported)` module pairs.
fn imports(files: &BTreeMap<Module, String>) -> BTreeSet<(Module, Module)> {
    let mut edges = BTreeSet::new();
    for (module, code) in files {
        let parent = &module[..module.len() - 1];
        let mut named = paths_after(code, "crate::");
        for p in paths_after(code, "super::") {
            named.push(parent.iter().cloned().chain(p).collect());
        }
        for p in named {
            if let Some(target) = resolve(files, &p) {
                if &target != module {
                    edges.insert((module.clone(), target));
                }
            }
        }
    }
    edges
}

/// A cycle in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        v: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(v.to_string(), 1);
        stack.push(v.to_string());
        for w in graph.get(v).into_iter().flatten() {
            match state.get(w.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|x| x == w).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(w.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(w, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(v.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for v in graph.keys() {
        if state.get(v.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(v, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn top_level_modules_import_only_the_layers_below_them() {
    let files = modules();
    let allowed: BTreeMap<&str, &[&str]> = MAY_IMPORT.iter().copied().collect();
    let mut wrong = Vec::new();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in imports(&files) {
        let (a, b) = (from[0].as_str(), to[0].as_str());
        if a == b {
            continue;
        }
        top.entry(a.to_string()).or_default().insert(b.to_string());
        if a == "bench" {
            continue;
        }
        match allowed.get(a) {
            Some(ok) if ok.contains(&b) => {}
            Some(_) => wrong.push(format!("{} imports {}", from.join("::"), to.join("::"))),
            None => wrong.push(format!("module {a} is missing from MAY_IMPORT")),
        }
    }
    assert!(
        wrong.is_empty(),
        "imports outside the layering:\n{}",
        wrong.join("\n")
    );
    assert_eq!(
        find_cycle(&top),
        None,
        "an import cycle among top-level modules"
    );
    assert!(top.contains_key("db"), "the source was read: {top:?}");
}

#[test]
fn no_file_imports_a_sibling_that_imports_it_back() {
    let files = modules();
    let mut by_dir: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, to) in imports(&files) {
        let dir = &from[..from.len() - 1];
        if from.len() >= 2 && to.len() == from.len() && to.starts_with(dir) {
            by_dir
                .entry(dir.to_vec())
                .or_default()
                .entry(from.join("::"))
                .or_default()
                .insert(to.join("::"));
        }
    }
    assert!(by_dir.contains_key(&vec!["alex".to_string()]), "{by_dir:?}");
    for (dir, graph) in &by_dir {
        assert_eq!(
            find_cycle(graph),
            None,
            "an import cycle in src/{}",
            dir.join("/")
        );
    }
}

#[test]
fn the_checker_sees_cycles_and_groups() {
    let code = code_of(
        "use crate::{alex::data_node, cache};\n// use crate::db;\nfn f() { super::x::y(); }\n\
         #[cfg(test)]\nmod tests {\n use crate::db;\n}\n",
    );
    let c = paths_after(&code, "crate::");
    assert_eq!(c, vec![vec!["alex", "data_node"], vec!["cache"]]);
    assert_eq!(paths_after(&code, "super::"), vec![vec!["x", "y"]]);
    let g: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), BTreeSet::from([b.to_string()])))
        .collect();
    assert!(find_cycle(&g).is_some());
}
