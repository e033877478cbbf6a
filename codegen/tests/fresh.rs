//! The committed generated sources are what the committed description gives.

use std::path::Path;

#[test]
fn committed_sources_are_fresh() {
    // At run time: a test binary reused from a shared target directory may have been
    // built from another checkout.
    let manifest_dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let root_dir = format!("{manifest_dir}/..");
    let root = Path::new(&root_dir);
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
    // The description gives 35 operations no security scheme; each is generated to send
    // no credentials.
    assert_eq!(output.counts.without_auth, 35);
    let marked: usize = output
        .files
        .iter()
        .filter(|(path, _)| path.starts_with(genesys_cloud_codegen::GENERATED_DIR))
        .map(|(_, text)| text.matches("call.set_requires_auth(false);").count())
        .sum();
    assert_eq!(marked, 35);
    // The platform's topic table (notificationMappings.json): 242 topics, 239 models,
    // each model with one `TopicBody` impl in its own file.
    assert_eq!(output.counts.topics, 242);
    assert_eq!(output.counts.topic_models, 239);
    let impls: usize = output
        .files
        .iter()
        .filter(|(path, _)| path.starts_with(genesys_cloud_codegen::GENERATED_DIR))
        .map(|(_, text)| text.matches("impl crate::TopicBody for ").count())
        .sum();
    assert_eq!(impls, 239);
}
