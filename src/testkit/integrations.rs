//! In the fake: integration types, integrations with states and versioned
//! configurations, paging.
//!
//! Configurations are checked with rules of the fake's own, each from a platform source
//! (named where the rule is). The client-app types' properties schema
//! (`GET /api/v2/integrations/types/{typeId}/configschemas/properties`) is not published,
//! so where no source states a rule the fake accepts: any `communicationTypeFilter`
//! token, a missing `displayType`, a `null` `permissions`, ids that are not UUIDs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Map, Value};
use wiremock::ResponseTemplate;

use super::responses::{bad_request, genesys_error, json_response, page_of};
use super::FakeGenesys;
use crate::Method;

/// Iframe sandbox tokens a client app may ask for: the Resource Center's "Available
/// options" (allow-forms, allow-modals, allow-popups, allow-presentation,
/// allow-same-origin, allow-scripts; "Information that vendors must provide about a
/// premium app", <https://help.mypurecloud.com/?p=170661>) and `allow-downloads`, which
/// the developer center's configuration example adds ("Creating a New Application",
/// <https://developer.genesys.cloud/platform/integrations/client-apps/installing-app>).
const SANDBOX_OPTIONS: &[&str] = &[
    "allow-forms",
    "allow-modals",
    "allow-popups",
    "allow-presentation",
    "allow-same-origin",
    "allow-scripts",
    "allow-downloads",
];

/// Permission-policy features a client app may opt in to: "The available permissions are:
/// camera, microphone, geolocation, clipboard-write, fullscreen, display-capture"
/// ("Embedded Client Apps: Adding support for configurable PermissionsPolicy",
/// <https://developer.genesys.cloud/forum/t/embedded-client-apps-adding-support-for-configurable-permissionspolicy/12672>).
const PERMISSION_POLICY: &[&str] = &[
    "camera",
    "microphone",
    "geolocation",
    "clipboard-write",
    "fullscreen",
    "display-capture",
];

/// Where a Client Application shows: "In the Application Type list, select ...
/// standalone ... widget" ("Set up a Custom Client Application integration",
/// <https://help.mypurecloud.com/articles/set-custom-client-application-integration/>).
const DISPLAY_TYPES: &[&str] = &["standalone", "widget"];

/// Whether a field's value is acceptable.
type Check = fn(&Value) -> bool;

/// `IntegrationConfiguration`'s required fields besides `properties` (the Python SDK's
/// `docs/IntegrationConfiguration.md`: every field but `id` and `selfUri`).
const CONFIG_REQUIRED: &[(&str, Check)] = &[
    ("name", |v| v.as_str().is_some_and(|s| !s.trim().is_empty())),
    ("version", Value::is_i64),
    ("notes", Value::is_string),
    ("advanced", Value::is_object),
    ("credentials", Value::is_object),
];

const TYPES: &[(&str, &str, &str)] = &[
    (
        "embedded-client-app",
        "Client Application",
        "Embeds third-party webapps via iframe in the Genesys Cloud UI.",
    ),
    (
        "embedded-client-app-interaction-widget",
        "Interaction Widget",
        "Embeds third-party webapps via iframe beside each interaction.",
    ),
    (
        "premium-app-example",
        "Premium Application Example",
        "Development type for premium applications.",
    ),
];

#[derive(Default)]
pub(crate) struct IntegrationsStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By id; a BTreeMap keeps listing order stable.
    integrations: BTreeMap<String, FakeIntegration>,
    /// How many GETs an enabled integration stays ACTIVATING before it is ACTIVE.
    activation_polls: u32,
}

struct FakeIntegration {
    id: String,
    type_id: String,
    intended: &'static str,
    reported: &'static str,
    detail: Option<String>,
    polls_left: u32,
    config_version: i64,
    name: String,
    notes: String,
    properties: Value,
    advanced: Value,
}

impl FakeIntegration {
    fn to_json(&self) -> Value {
        let type_name = TYPES
            .iter()
            .find(|t| t.0 == self.type_id)
            .map_or("", |t| t.1);
        let mut reported =
            json!({ "code": self.reported, "effective": self.reported.to_lowercase() });
        if let Some(detail) = &self.detail {
            reported["detail"] = json!({ "message": detail });
        }
        json!({
            "id": self.id,
            "name": self.name,
            "integrationType": { "id": self.type_id, "name": type_name },
            "notes": self.notes,
            "intendedState": self.intended,
            "reportedState": reported,
            "config": { "current": self.config_json() },
            "selfUri": format!("/api/v2/integrations/{}", self.id),
        })
    }

    fn config_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "version": self.config_version,
            "properties": self.properties,
            "advanced": self.advanced,
            "notes": self.notes,
            "credentials": {},
            "selfUri": format!("/api/v2/integrations/{}/config/current", self.id),
        })
    }

    /// What the platform would report once enabled with this configuration.
    fn activation_problem(&self) -> Option<String> {
        match self.properties.get("url").and_then(Value::as_str) {
            Some(url) if url.starts_with("https://") => None,
            _ => Some("The application URL is not configured.".into()),
        }
    }
}

impl IntegrationsStore {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl FakeGenesys {
    /// How many status reads an enabled integration stays `ACTIVATING` before it is
    /// `ACTIVE` (default 1).
    pub fn set_activation_polls(&self, polls: u32) {
        self.state.integrations.lock().activation_polls = polls;
    }

    /// Creates a disabled integration directly in the fake; returns its id.
    pub fn seed_integration(&self, name: &str, type_id: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let mut state = self.state.integrations.lock();
        state
            .integrations
            .insert(id.clone(), new_integration(&id, name, type_id));
        id
    }

    /// Every integration in the fake, as the platform would return it.
    pub fn integrations(&self) -> Vec<Value> {
        self.state
            .integrations
            .lock()
            .integrations
            .values()
            .map(FakeIntegration::to_json)
            .collect()
    }
}

fn new_integration(id: &str, name: &str, type_id: &str) -> FakeIntegration {
    FakeIntegration {
        id: id.to_owned(),
        type_id: type_id.to_owned(),
        intended: "DISABLED",
        reported: "INACTIVE",
        detail: None,
        polls_left: 0,
        config_version: 1,
        name: name.to_owned(),
        notes: String::new(),
        properties: json!({}),
        advanced: json!({}),
    }
}

fn not_found() -> ResponseTemplate {
    genesys_error(404, "not.found", "The integration was not found.")
}

pub(crate) fn install(fake: &FakeGenesys, store: Arc<IntegrationsStore>) {
    store.lock().activation_polls = 1;

    fake.route(Method::GET, "/api/v2/integrations/types", |req| {
        let types = TYPES
            .iter()
            .map(|(id, name, description)| {
                json!({
                    "id": id, "name": name, "description": description, "provider": "clientapps",
                    "category": "Client Apps",
                    "configPropertiesSchemaUri": format!("/api/v2/integrations/types/{id}/configschemas/properties"),
                    "configAdvancedSchemaUri": format!("/api/v2/integrations/types/{id}/configschemas/advanced"),
                    "nonInstallable": false,
                    "selfUri": format!("/api/v2/integrations/types/{id}"),
                })
            })
            .collect();
        page_of(req, types, "/api/v2/integrations/types")
    });

    let s = store.clone();
    fake.route(Method::GET, "/api/v2/integrations", move |req| {
        let items = s
            .lock()
            .integrations
            .values()
            .map(FakeIntegration::to_json)
            .collect();
        page_of(req, items, "/api/v2/integrations")
    });

    let s = store.clone();
    fake.route(Method::POST, "/api/v2/integrations", move |req| {
        let Ok(body) = req.json::<Value>() else {
            return bad_request(
                "The request body is not valid JSON.",
                &[("body", "invalid.json")],
            );
        };
        let type_id = body
            .pointer("/integrationType/id")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = body.get("name").and_then(Value::as_str).unwrap_or("");
        let mut problems = Vec::new();
        if !TYPES.iter().any(|t| t.0 == type_id) {
            problems.push(("integrationType.id", "invalid.value"));
        }
        if name.trim().is_empty() {
            problems.push(("name", "required"));
        }
        if !problems.is_empty() {
            return bad_request("The integration could not be created.", &problems);
        }
        let id = uuid::Uuid::new_v4().to_string();
        let integration = new_integration(&id, name, type_id);
        let answer = integration.to_json();
        s.lock().integrations.insert(id, integration);
        json_response(201, &answer)
    });

    let s = store.clone();
    fake.route(
        Method::GET,
        "/api/v2/integrations/{integrationId}",
        move |req| {
            let mut state = s.lock();
            let Some(i) = state.integrations.get_mut(req.param("integrationId")) else {
                return not_found();
            };
            if i.reported == "ACTIVATING" {
                if i.polls_left == 0 {
                    match i.activation_problem() {
                        Some(problem) => {
                            i.reported = "ERROR";
                            i.detail = Some(problem);
                        }
                        None => i.reported = "ACTIVE",
                    }
                } else {
                    i.polls_left -= 1;
                }
            }
            json_response(200, &i.to_json())
        },
    );

    let s = store.clone();
    fake.route(
        Method::PATCH,
        "/api/v2/integrations/{integrationId}",
        move |req| {
            let state_asked = req.json::<Value>().ok().and_then(|b| {
                b.get("intendedState")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            let mut state = s.lock();
            let polls = state.activation_polls;
            let Some(i) = state.integrations.get_mut(req.param("integrationId")) else {
                return not_found();
            };
            match state_asked.as_deref() {
                Some("ENABLED") => {
                    if i.intended != "ENABLED" || i.reported == "ERROR" {
                        i.intended = "ENABLED";
                        i.reported = "ACTIVATING";
                        i.detail = None;
                        i.polls_left = polls;
                    }
                }
                Some("DISABLED") => {
                    i.intended = "DISABLED";
                    i.reported = "INACTIVE";
                    i.detail = None;
                }
                _ => {
                    return bad_request(
                        "intendedState must be ENABLED or DISABLED.",
                        &[("intendedState", "invalid.value")],
                    )
                }
            }
            json_response(200, &i.to_json())
        },
    );

    let s = store.clone();
    fake.route(
        Method::DELETE,
        "/api/v2/integrations/{integrationId}",
        move |req| match s.lock().integrations.remove(req.param("integrationId")) {
            Some(i) => json_response(200, &i.to_json()),
            None => not_found(),
        },
    );

    let s = store.clone();
    fake.route(
        Method::GET,
        "/api/v2/integrations/{integrationId}/config/current",
        move |req| match s.lock().integrations.get(req.param("integrationId")) {
            Some(i) => json_response(200, &i.config_json()),
            None => not_found(),
        },
    );

    fake.route(Method::PUT, "/api/v2/integrations/{integrationId}/config/current", move |req| {
        let Ok(body) = req.json::<Value>() else {
            return bad_request("The request body is not valid JSON.", &[("body", "invalid.json")]);
        };
        let mut state = store.lock();
        let Some(i) = state.integrations.get_mut(req.param("integrationId")) else {
            return not_found();
        };
        if let Err(response) = check_config(&body, &i.type_id) {
            return response;
        }
        if body["version"].as_i64() != Some(i.config_version) {
            return genesys_error(
                409,
                "conflict",
                "The version number of the modified resource must match the version number in the database.",
            );
        }
        i.config_version += 1;
        i.name = body["name"].as_str().unwrap_or_default().to_owned();
        i.notes = body["notes"].as_str().unwrap_or_default().to_owned();
        i.properties = body["properties"].clone();
        i.advanced = body["advanced"].clone();
        json_response(200, &i.config_json())
    });
}

/// `IntegrationConfiguration` checked with the fake's rules: every required field
/// present, and the client-app properties well formed.
fn check_config(body: &Value, type_id: &str) -> Result<(), ResponseTemplate> {
    let mut problems: Vec<(String, &str)> = Vec::new();
    for (field, ok) in CONFIG_REQUIRED {
        if !body.get(*field).is_some_and(ok) {
            problems.push(((*field).into(), "required"));
        }
    }
    match body.get("properties").and_then(Value::as_object) {
        None => problems.push(("properties".into(), "required")),
        Some(p) if type_id.starts_with("embedded-client-app") => {
            check_client_app(p, type_id, &mut problems)
        }
        Some(_) => {}
    }
    if problems.is_empty() {
        return Ok(());
    }
    let fields: Vec<(&str, &str)> = problems.iter().map(|(f, c)| (f.as_str(), *c)).collect();
    Err(bad_request("Input validation error.", &fields))
}

/// The properties of the `embedded-client-app*` types, in the shapes Genesys documents
/// (the developer center's configuration example and the premium-app wizard's
/// `interaction-widget.js`, MyPureCloud/purecloud-premium-app): comma-separated strings
/// for `sandbox`, `permissions` and `communicationTypeFilter` (spaces after commas, as
/// Genesys's own examples write them), arrays of ids for `groups` and `queueIdFilterList`.
fn check_client_app(
    p: &Map<String, Value>,
    type_id: &str,
    problems: &mut Vec<(String, &'static str)>,
) {
    let mut invalid = |key: &str| problems.push((format!("properties.{key}"), "invalid.value"));
    // "Be sure to specify the full URL, including the https: at the beginning of the URL."
    // (Resource Center, "Set up a Custom Client Application integration").
    match p.get("url").and_then(Value::as_str) {
        Some(url) if url.starts_with("https://") => {}
        _ => invalid("url"),
    }
    // Comma-separated tokens from a known list; absent or `null` (the translator
    // blueprint's `"permissions": null`, GenesysCloudBlueprints/
    // digital-messaging-translator-blueprint, terraform/modules/integration/integration.tf)
    // is none.
    for (key, known) in [
        ("sandbox", Some(SANDBOX_OPTIONS)),
        ("permissions", Some(PERMISSION_POLICY)),
        // No source lists the filter's tokens (examples show call, chat, email,
        // webmessaging): any token is accepted.
        ("communicationTypeFilter", None),
    ] {
        match p.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(list)) => {
                let mut tokens = list.split(',').map(str::trim).filter(|t| !t.is_empty());
                if let Some(known) = known {
                    if tokens.any(|t| !known.contains(&t)) {
                        invalid(key);
                    }
                }
            }
            Some(_) => invalid(key),
        }
    }
    for key in ["groups", "queueIdFilterList"] {
        match p.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => {}
            Some(_) => invalid(key),
        }
    }
    if type_id == "embedded-client-app" {
        match p.get("displayType") {
            None | Some(Value::Null) => {}
            Some(Value::String(t)) if DISPLAY_TYPES.contains(&t.as_str()) => {}
            Some(_) => invalid("displayType"),
        }
    }
}
