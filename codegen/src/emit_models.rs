//! Models: one file per model under `api/src/generated/models/`, plus the module that
//! declares them behind their features.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::desc::{Description, Field};
use crate::graph::{Features, Graph};
use crate::naming::{doc_lines, pascal_case, snake_case, str_lit, unraw, variant_name};
use crate::types::Ty;
use crate::HEADER;

/// The name the flattened map of unknown fields gets (unless a field has it).
const EXTRA: &str = "extra";

/// Rust names for every model, field and enum, fixed once so that all emitters agree.
#[derive(Debug)]
pub struct ModelNames {
    /// Model → file stem under `models/`.
    pub files: BTreeMap<String, String>,
    /// Model → the Rust name of each field, in order.
    pub fields: BTreeMap<String, Vec<String>>,
    /// Model → the name of its map of unknown fields.
    pub extra: BTreeMap<String, String>,
    /// (model, field index) → the enum type of a string field with allowed values.
    pub enums: BTreeMap<(String, usize), String>,
}

impl ModelNames {
    /// Names everything; refuses names that would clash.
    pub fn new(desc: &Description) -> Result<ModelNames, String> {
        for reserved in [
            "Option", "String", "Vec", "Box", "Some", "None", "Ok", "Err", "Result",
        ] {
            if desc.models.contains_key(reserved) {
                return Err(format!(
                    "a model is named {reserved}, which the generated code uses"
                ));
            }
        }
        let mut files = BTreeMap::new();
        let mut used_files = BTreeSet::from(["mod".to_owned()]);
        let mut fields = BTreeMap::new();
        let mut extra = BTreeMap::new();
        let mut enums = BTreeMap::new();
        let mut type_names: BTreeSet<String> = desc.models.keys().cloned().collect();
        for (name, model) in &desc.models {
            let mut stem = snake_case(name);
            if crate::naming::is_keyword(&stem) || used_files.contains(&stem) {
                let mut n = 2;
                while used_files.contains(&format!("{stem}_{n}")) {
                    n += 1;
                }
                stem = format!("{stem}_{n}");
            }
            used_files.insert(stem.clone());
            files.insert(name.clone(), stem);

            let mut seen = BTreeSet::new();
            let mut names = Vec::new();
            for field in &model.fields {
                let mut rust = crate::naming::field_name(&field.name, &field.json);
                while !seen.insert(unraw(&rust).to_owned()) {
                    rust.push('_');
                }
                names.push(rust);
            }
            let mut extra_name = EXTRA.to_owned();
            while seen.contains(&extra_name) {
                extra_name.push('_');
            }
            extra.insert(name.clone(), extra_name);
            for (i, field) in model.fields.iter().enumerate() {
                if field.allowed.is_some() && field.ty == "str" {
                    let base = format!("{name}{}", pascal_case(unraw(&names[i])));
                    let mut enum_name = base.clone();
                    let mut n = 2;
                    while type_names.contains(&enum_name) {
                        enum_name = format!("{base}{n}");
                        n += 1;
                    }
                    type_names.insert(enum_name.clone());
                    enums.insert((name.clone(), i), enum_name);
                }
            }
            fields.insert(name.clone(), names);
        }
        Ok(ModelNames {
            files,
            fields,
            extra,
            enums,
        })
    }

    /// The enum types a model's file defines, in field order.
    pub fn enums_of(&self, model: &str) -> Vec<&str> {
        self.enums
            .range((model.to_owned(), 0)..=(model.to_owned(), usize::MAX))
            .map(|(_, e)| e.as_str())
            .collect()
    }
}

/// `api/src/generated/models/mod.rs`.
pub fn models_mod(desc: &Description, names: &ModelNames, features: &Features) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str(
        "//! Every model of the Platform API, as Genesys's SDKs name them.\n\
         //!\n\
         //! A model compiles when a feature that needs it is on: the group features need the\n\
         //! models their operations take and return (and, transitively, those models' fields),\n\
         //! `topics` the notification payloads, `unreferenced` the models no operation uses.\n\
         //! Each model's page lists its features.\n\n",
    );
    for name in desc.models.keys() {
        let cfg = features.cfg(name);
        let file = &names.files[name];
        let mut exported = vec![name.as_str()];
        exported.extend(names.enums_of(name));
        let _ = writeln!(out, "#[cfg({cfg})]\nmod {file};");
        if exported.len() == 1 {
            let _ = writeln!(out, "#[cfg({cfg})]\npub use {file}::{name};");
        } else {
            let _ = writeln!(
                out,
                "#[cfg({cfg})]\npub use {file}::{{{}}};",
                exported.join(", ")
            );
        }
    }
    out
}

/// The file of one model: its struct and the enums of its fields.
pub fn model_file(
    desc: &Description,
    graph: &Graph,
    names: &ModelNames,
    name: &str,
) -> Result<String, String> {
    let model = desc
        .models
        .get(name)
        .ok_or_else(|| format!("no model {name}"))?;
    let field_names = &names.fields[name];
    let mut out = String::new();
    out.push_str(HEADER);
    out.push('\n');

    let required: Vec<&str> = model
        .fields
        .iter()
        .zip(field_names)
        .filter(|(f, _)| f.required == Some(true))
        .map(|(_, n)| unraw(n))
        .collect();
    let _ = writeln!(
        out,
        "crate::model! {{\n    /// `{name}`, a Platform API model."
    );
    let topics: Vec<&str> = desc
        .topics
        .iter()
        .filter(|t| t.model == name)
        .map(|t| t.pattern.as_str())
        .collect();
    if !topics.is_empty() {
        let mut features = BTreeSet::new();
        for pattern in &topics {
            features.insert(format!(
                "`{}`",
                crate::topics::Pattern::parse(pattern)?.feature()
            ));
        }
        let list: Vec<String> = topics.iter().map(|t| format!("`{t}`")).collect();
        let _ = writeln!(
            out,
            "    ///\n    /// The body (`eventBody`) of the notification {} {}\n    /// (feature {}; module `topics`).",
            if topics.len() == 1 { "topic" } else { "topics" },
            list.join(", "),
            features.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    if !required.is_empty() {
        let list: Vec<String> = required.iter().map(|r| format!("`{r}`")).collect();
        let _ = writeln!(
            out,
            "    ///\n    /// Required by the platform when sent: {}. Every field is an `Option` so\n    /// that answers which leave one out still read.",
            list.join(", ")
        );
    }
    let _ = writeln!(out, "    {name} {{");
    for (i, (field, rust)) in model.fields.iter().zip(field_names).enumerate() {
        let ty = Ty::parse(&field.ty).map_err(|e| format!("{name}.{}: {e}", field.json))?;
        field_doc(&mut out, field, &ty);
        let rust_ty = match names.enums.get(&(name.to_owned(), i)) {
            Some(enum_name) => enum_name.clone(),
            None => field_type(graph, name, &ty),
        };
        let _ = writeln!(out, "        {rust}: {rust_ty} = {},", str_lit(&field.json));
    }
    let _ = writeln!(out, "    }}\n    {}\n}}", names.extra[name]);
    if !topics.is_empty() {
        out.push_str(&crate::topics::topic_body_impl(name, &topics));
    }

    for (i, field) in model.fields.iter().enumerate() {
        let Some(enum_name) = names.enums.get(&(name.to_owned(), i)) else {
            continue;
        };
        let values = field.allowed.as_deref().unwrap_or_default();
        let field = &field_names[i];
        let what = if field.starts_with("r#") {
            format!("`{name}::{field}`")
        } else {
            format!("[`{name}::{field}`]")
        };
        let _ = writeln!(
            out,
            "\ncrate::string_enum! {{\n    /// The values of {what}.\n    {enum_name} {{"
        );
        let mut used = BTreeSet::from(["Unrecognized".to_owned()]);
        for value in values {
            let mut variant = variant_name(value);
            if used.contains(&variant) {
                let base = variant.clone();
                let mut n = 2;
                while used.contains(&variant) {
                    variant = format!("{base}{n}");
                    n += 1;
                }
            }
            used.insert(variant.clone());
            let _ = writeln!(
                out,
                "        /// `{}`\n        {variant} = {},",
                value.replace('`', "'"),
                str_lit(value)
            );
        }
        out.push_str("    }\n}\n");
    }
    Ok(out)
}

fn field_doc(out: &mut String, field: &Field, ty: &Ty) {
    let text = field.description.as_deref().unwrap_or("").trim();
    let mut doc = doc_lines(text, "        ");
    if doc.is_empty() {
        let _ = writeln!(doc, "        /// `{}`", field.json);
    }
    if let Some(note) = ty.format_note() {
        if !text.contains("ISO-8601") && !text.contains("yyyy") {
            let _ = writeln!(doc, "        ///\n        /// {note}");
        }
    }
    if field.required == Some(true) {
        doc.push_str("        ///\n        /// Required when sent.\n");
    }
    out.push_str(&doc);
}

/// The Rust type of a field, boxed where it closes a cycle.
fn field_type(graph: &Graph, model: &str, ty: &Ty) -> String {
    match ty.by_value_model() {
        Some(target) if graph.needs_box(model, target) => format!("Box<super::{target}>"),
        _ => ty
            .rust("crate::models::")
            .replace("crate::models::", "super::"),
    }
}
