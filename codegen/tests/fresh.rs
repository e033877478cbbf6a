//! The committed generated sources are what the committed description gives.

use std::path::Path;

#[test]
fn committed_sources_are_fresh() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let output = genesys_cloud_codegen::generate_at(root).expect("generation succeeds");
    let differ = genesys_cloud_codegen::differences(root, &output).expect("the tree reads");
    assert!(
        differ.is_empty(),
        "{} generated files are stale; run `cargo run -p genesys-cloud-codegen` and commit:\n{}",
        differ.len(),
        differ.join("\n")
    );
    assert_eq!(output.counts.operations, 3508);
    assert_eq!(output.counts.models, 6651);
}
