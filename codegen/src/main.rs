//! `genesys-cloud-codegen [--check] [--root DIR]`: writes the generated sources of
//! `genesys-cloud-api` (or, with `--check`, fails if the committed ones differ).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use genesys_cloud_codegen::{
    desc, differences, generate, splice_features, stale_files, Config, API_MANIFEST, GENERATED_DIR,
    SDK_DOCUMENTS,
};

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("genesys-cloud-codegen: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, String> {
    let mut check = false;
    // `cargo run` sets CARGO_MANIFEST_DIR for the process it starts: that is the checkout
    // being worked on. The value compiled in is only a fallback: a binary reused from a
    // shared target directory may have been built from another checkout.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let mut root = manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--root" => {
                root = args
                    .next()
                    .map(PathBuf::from)
                    .ok_or("--root needs a directory")?
            }
            "-h" | "--help" => {
                println!("usage: genesys-cloud-codegen [--check] [--root WORKSPACE]\n\nReads codegen/platform-api.json and codegen/config.json, writes {GENERATED_DIR}/, the\n[features] of {API_MANIFEST}, api/tests/roundtrip/cases.rs, tests/data/api-operations.json,\ntests/api/calls.rs, and (from {SDK_DOCUMENTS}) tests/data/sdk-documents.json and\ntests/api/model_cases.rs. With --check, writes nothing and fails if any of them differ.");
                return Ok(true);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    let started = Instant::now();
    let read =
        |rel: &str| std::fs::read_to_string(root.join(rel)).map_err(|e| format!("{rel}: {e}"));
    let description = desc::parse(&read("codegen/platform-api.json")?)?;
    let config = Config::parse(&read("codegen/config.json")?)?;
    let output = generate(&description, &config, &read(SDK_DOCUMENTS)?)?;
    let manifest = read(API_MANIFEST)?;
    let manifest_new = splice_features(&manifest, &output.features_block)?;
    let stale = stale_files(&root, &output)?;
    let c = output.counts;
    let summary = format!(
        "{} operations in {} groups ({} with paginate, {} without credentials), {} models, {} enums, {} notification topics ({} models), {} features",
        c.operations, c.groups, c.paginated, c.without_auth, c.models, c.enums, c.topics, c.topic_models, c.features
    );
    if check {
        let differ = differences(&root, &output)?;
        if differ.is_empty() {
            println!("up to date: {summary} ({:.1?})", started.elapsed());
            return Ok(true);
        }
        eprintln!(
            "{} generated files differ from what codegen/platform-api.json gives; run `cargo run -p genesys-cloud-codegen` and commit:",
            differ.len()
        );
        for d in differ.iter().take(20) {
            eprintln!("  {d}");
        }
        return Ok(false);
    }
    let mut written = 0;
    for (path, text) in &output.files {
        let full = root.join(path);
        if std::fs::read_to_string(&full).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&full, text).map_err(|e| format!("{}: {e}", full.display()))?;
        written += 1;
    }
    if manifest_new != manifest {
        std::fs::write(root.join(API_MANIFEST), manifest_new)
            .map_err(|e| format!("{API_MANIFEST}: {e}"))?;
        written += 1;
    }
    for path in &stale {
        std::fs::remove_file(root.join(path)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "generated {summary}: {written} files written, {} removed ({:.1?})",
        stale.len(),
        started.elapsed()
    );
    Ok(true)
}
