//! The generator's output for a few operations and models, pinned: a change to the
//! generator shows in review as a change of these files. `UPDATE_GOLDEN=1 cargo test -p
//! genesys-cloud-codegen` rewrites them.

use std::path::Path;

use genesys_cloud_codegen::{desc, emit_models, emit_ops, naming, Config, Plan, SDK_DOCUMENTS};

/// Operations with one thing each to show: a path parameter; list query parameters and
/// paging; a required body on a POST; a header; a text answer; no answer on a HEAD; no
/// credentials (the platform's description gives it no security scheme).
const OPERATIONS: &[&str] = &[
    "routing.get_routing_queue",
    "users.get_users",
    "groups.post_groups",
    "scim.get_scim_user",
    "integrations.get_integrations_action_template",
    "tokens.head_tokens_me",
    "web_messaging.post_webmessaging_deployment_pushdevice",
];

/// Models with enums and required fields; a field that holds its own model (boxed); JSON
/// names that are keywords or need a rename; the body of a notification topic (its
/// `TopicBody`).
const MODELS: &[&str] = &[
    "GroupCreate",
    "ErrorDetails",
    "GraphEdge",
    "JsonSchemaDocument",
    "PresenceEventUserPresence",
];

fn root() -> std::path::PathBuf {
    // At run time: a test binary reused from a shared target directory may have been
    // built from another checkout.
    let manifest_dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    Path::new(&manifest_dir).join("..")
}

fn compare(name: &str, actual: &str) {
    let path = root().join("codegen/tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "the generator's output for {name} changed; if that is intended, run \
         `UPDATE_GOLDEN=1 cargo test -p genesys-cloud-codegen` and review the diff.\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

#[test]
fn operations_are_generated_as_pinned() {
    let text = std::fs::read_to_string(root().join("codegen/platform-api.json")).unwrap();
    let desc = desc::parse(&text).unwrap();
    for id in OPERATIONS {
        let op = desc.operations.iter().find(|o| o.id() == *id).unwrap();
        let handle = naming::pascal_case(&op.group);
        let (method, builder) = emit_ops::operation(&desc, op, &handle).unwrap();
        compare(&format!("{id}.rs.txt"), &format!("{method}\n{builder}"));
    }
}

#[test]
fn models_are_generated_as_pinned() {
    let text = std::fs::read_to_string(root().join("codegen/platform-api.json")).unwrap();
    let config = std::fs::read_to_string(root().join("codegen/config.json")).unwrap();
    let desc = desc::parse(&text).unwrap();
    let plan = Plan::new(&desc, &Config::parse(&config).unwrap()).unwrap();
    for name in MODELS {
        let file = emit_models::model_file(&desc, &plan.graph, &plan.names, name).unwrap();
        compare(&format!("{name}.rs.txt"), &file);
    }
}

#[test]
fn an_operation_with_a_security_scheme_the_client_does_not_know_fails_generation() {
    let text = std::fs::read_to_string(root().join("codegen/platform-api.json")).unwrap();
    let config = std::fs::read_to_string(root().join("codegen/config.json")).unwrap();
    let documents = std::fs::read_to_string(root().join(SDK_DOCUMENTS)).unwrap();
    let mut desc = desc::parse(&text).unwrap();
    let op = desc
        .operations
        .iter_mut()
        .find(|o| o.id() == "web_messaging.get_webmessaging_messages")
        .unwrap();
    assert_eq!(op.requires_auth(), Ok(false), "no scheme: no credentials");
    op.auth.schemes = vec!["Guest JWT".to_owned()];
    let err = genesys_cloud_codegen::generate(&desc, &Config::parse(&config).unwrap(), &documents)
        .expect_err("an unknown scheme is not generated as if it were OAuth");
    assert!(
        err.contains("web_messaging.get_webmessaging_messages") && err.contains("Guest JWT"),
        "{err}"
    );
}

/// The module of notification topics: its docs (source, overlaps, area features) and the
/// table.
#[test]
fn the_topics_module_is_generated_as_pinned() {
    let text = std::fs::read_to_string(root().join("codegen/platform-api.json")).unwrap();
    let config = std::fs::read_to_string(root().join("codegen/config.json")).unwrap();
    let desc = desc::parse(&text).unwrap();
    let plan = Plan::new(&desc, &Config::parse(&config).unwrap()).unwrap();
    compare(
        "topics.rs.txt",
        &genesys_cloud_codegen::topics::topics_file(&plan),
    );
}
