//! `deploy/kubernetes/`: every manifest passes `kubernetes-validate --strict` (PyPI, schemas in
//! the package, in the project's venv) and a broken one fails; the ConfigMap's pipeline file
//! is one ovstream loads; the StatefulSet's shard count equals its replicas and its arguments
//! are ones `ovstream serve` takes.

use crate::common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("deploy/kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn validate(files: &[PathBuf]) -> Output {
    Command::new(root().join(".venv/bin/kubernetes-validate"))
        .arg("--strict")
        .args(files)
        .output()
        .expect("kubernetes-validate in .venv (make setup installs it)")
}

/// Runs `code` with the venv's Python (PyYAML comes with kubernetes-validate); its stdout.
fn python(code: &str, args: &[&Path]) -> String {
    let out = Command::new(root().join(".venv/bin/python"))
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn every_manifest_passes_strict_validation_and_a_broken_one_fails() {
    let files = manifests();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    for expected in [
        "configmap.yaml",
        "kustomization.yaml",
        "mosquitto.yaml",
        "service.yaml",
        "statefulset.yaml",
    ] {
        assert!(names.contains(&expected.to_string()), "{names:?}");
    }
    let out = validate(&files);
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(out.status.success(), "{log}");
    for resource in [
        "configmap/ovstream-pipeline",
        "statefulset/ovstream",
        "service/ovstream",
        "configmap/mosquitto-config",
        "deployment/mosquitto",
        "service/mosquitto",
    ] {
        assert!(
            log.contains(&format!("passed for resource {resource}")),
            "{log}"
        );
    }
    assert!(!log.contains("failed"), "{log}");

    // Broken copies: a misspelled field (strict) and a wrong type each fail.
    let dir = tempfile::tempdir().unwrap();
    let statefulset =
        std::fs::read_to_string(root().join("deploy/kubernetes/statefulset.yaml")).unwrap();
    for (name, from, to) in [
        ("typo.yaml", "serviceName:", "serviceNmae:"),
        ("type.yaml", "replicas: 3", "replicas: three"),
    ] {
        assert!(statefulset.contains(from));
        let broken = dir.path().join(name);
        std::fs::write(&broken, statefulset.replacen(from, to, 1)).unwrap();
        let out = validate(&[broken]);
        assert!(
            !out.status.success(),
            "{name} passed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // The kustomization lists every other manifest.
    let listed = python(
        "import sys, yaml; print('\\n'.join(yaml.safe_load(open(sys.argv[1]))['resources']))",
        &[&root().join("deploy/kubernetes/kustomization.yaml")],
    );
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort();
    let others: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| *n != "kustomization.yaml")
        .collect();
    assert_eq!(listed, others);
}

#[test]
fn the_configmap_pipeline_loads_and_the_statefulset_shards_by_its_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let cameras = dir.path().join("cameras.toml");
    let text = python(
        "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['data']['cameras.toml'])",
        &[&root().join("deploy/kubernetes/configmap.yaml")],
    );
    std::fs::write(&cameras, text).unwrap();
    // The pipeline reads the MQTT password from the Secret through MQTT_PASSWORD.
    let secret = ("MQTT_PASSWORD", "not-a-real-password");
    let out = ovstream_with_env(
        &["shards", cameras.to_str().unwrap(), "--replicas", "3"],
        &[secret],
    );
    assert_ok(&out);
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(table.contains("6 input(s)"), "{table}");

    // OVSTREAM_SHARD_COUNT equals spec.replicas; the args are the ones below.
    let facts = python(
        "import sys, yaml\n\
         s = yaml.safe_load(open(sys.argv[1]))\n\
         c = s['spec']['template']['spec']['containers'][0]\n\
         env = {e['name']: e.get('value') for e in c['env']}\n\
         print(s['spec']['replicas'], env['OVSTREAM_SHARD_COUNT'])\n\
         print(' '.join(c['args']))",
        &[&root().join("deploy/kubernetes/statefulset.yaml")],
    );
    let mut lines = facts.lines();
    let counts: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(counts[0], counts[1], "replicas vs OVSTREAM_SHARD_COUNT");
    let args = lines.next().unwrap();
    assert!(args.contains("--shard-from-hostname"), "{args}");
    // Those arguments parse: on a host whose name has no ordinal, serve stops at the shard
    // (exit 2, naming the hostname), before it binds or compiles anything.
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken\n").unwrap();
    let args: Vec<String> = args
        .split_whitespace()
        .map(|a| match a {
            "/etc/ovstream/cameras.toml" => cameras.display().to_string(),
            "/run/secrets/ovstream/api-token" => token.display().to_string(),
            "/var/lib/ovstream/streams.json" => dir.path().join("s.json").display().to_string(),
            "0.0.0.0:8080" => "127.0.0.1:1".to_string(),
            other => other.to_string(),
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = ovstream_with_env(&args, &[("OVSTREAM_SHARD_COUNT", counts[1]), secret]);
    let err = stderr(&out);
    if hostname
        .trim()
        .rsplit_once('-')
        .is_some_and(|(_, n)| n.parse::<u32>().is_ok())
    {
        return; // this host looks like a pod: nothing to learn from the refusal
    }
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("StatefulSet ordinal"), "{err}");
}
