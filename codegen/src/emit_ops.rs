//! Operations: one module per API group, a request builder per operation.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::desc::{Description, Operation, Param};
use crate::naming::{doc_lines, ident, pascal_case, snake_case, str_lit, unraw};
use crate::types::Ty;
use crate::HEADER;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Path,
    Query,
    Header,
    Body,
}

/// One parameter of an operation, named for Rust.
#[derive(Debug)]
struct Arg<'a> {
    rust: String,
    place: Place,
    wire: &'a str,
    ty: Ty,
    required: bool,
    description: &'a str,
}

/// How a listing's next page is found, when the client's pager can follow it.
pub fn pager_style(desc: &Description, op: &Operation) -> Option<&'static str> {
    if op.method != "GET" {
        return None;
    }
    let paging = op.paging.as_ref()?;
    let items = paging.items.as_ref()?;
    if !paging.pageable || items.field != "entities" {
        return None;
    }
    let returns = op.returns.as_deref()?;
    let model = desc.models.get(returns)?;
    let has_field = |f: &str| model.fields.iter().any(|x| x.json == f);
    let has_query = |q: &str| op.query_params.iter().any(|p| p.name == q);
    if has_field("nextUri") {
        Some("`nextUri`")
    } else if has_field("cursor") && has_query("cursor") {
        Some("`cursor`")
    } else if has_field("pageCount") && has_field("pageNumber") && has_query("pageNumber") {
        Some("`pageNumber` and `pageCount`")
    } else {
        None
    }
}

/// What `send` answers with, as Rust, and how the sender is asked for it.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// No content (anything sent back is ignored).
    Nothing,
    /// Text (`text/plain`, `text/calendar`).
    Text,
    /// JSON of this Rust type.
    Json(String),
}

/// The answer of an operation.
pub fn answer(op: &Operation) -> Result<Answer, String> {
    let Some(returns) = &op.returns else {
        return Ok(Answer::Nothing);
    };
    if !op.produces.iter().any(|p| p.contains("json")) {
        return Ok(Answer::Text);
    }
    let ty = Ty::parse(returns).map_err(|e| format!("{}: {e}", op.id()))?;
    Ok(Answer::Json(ty.rust("crate::models::")))
}

/// A parameter of an operation as the generated code names it.
#[derive(Debug, Clone)]
pub struct ArgInfo {
    /// The Rust name (argument or builder method; `body` for an optional body).
    pub rust: String,
    /// Its type.
    pub ty: Ty,
    /// Whether it is an argument of the handle's method (else a builder method).
    pub required: bool,
    /// Whether it is the body.
    pub body: bool,
    /// Whether it is a path parameter.
    pub path: bool,
}

/// The parameters of an operation in the order the handle's method takes them.
pub fn arg_infos(op: &Operation) -> Result<Vec<ArgInfo>, String> {
    Ok(args(op)?
        .into_iter()
        .map(|a| ArgInfo {
            rust: if a.place == Place::Body && !a.required {
                "body".to_owned()
            } else {
                a.rust
            },
            ty: a.ty,
            required: a.required,
            body: a.place == Place::Body,
            path: a.place == Place::Path,
        })
        .collect())
}

fn args(op: &Operation) -> Result<Vec<Arg<'_>>, String> {
    let mut out = Vec::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let params = op
        .path_params
        .iter()
        .map(|p| (p, Place::Path))
        .chain(op.query_params.iter().map(|p| (p, Place::Query)))
        .chain(op.header_params.iter().map(|p| (p, Place::Header)));
    for (p, place) in params {
        out.push(named_arg(op, p, place, &mut used)?);
    }
    if let Some(body) = &op.body {
        let mut rust = ident(&snake_case(&body.python_name));
        while !used.insert(unraw(&rust).to_owned()) {
            rust.push('_');
        }
        out.push(Arg {
            rust,
            place: Place::Body,
            wire: "",
            ty: Ty::parse(&body.ty).map_err(|e| format!("{}: {e}", op.id()))?,
            required: body.required,
            description: body.description.as_deref().unwrap_or(""),
        });
    }
    Ok(out)
}

fn named_arg<'a>(
    op: &Operation,
    p: &'a Param,
    place: Place,
    used: &mut BTreeSet<String>,
) -> Result<Arg<'a>, String> {
    let base = if p.python_name.starts_with("pc")
        && p.python_name[2..].starts_with(|c: char| c.is_ascii_uppercase())
    {
        snake_case(&p.name)
    } else {
        snake_case(&p.python_name)
    };
    let mut rust = ident(&base);
    // Builder methods of its own that a parameter must not shadow.
    while ["send", "paginate", "into_call", "body", "call", "sender"].contains(&unraw(&rust))
        || !used.insert(unraw(&rust).to_owned())
    {
        rust = format!("{}_param", unraw(&rust));
        rust = ident(&rust);
    }
    Ok(Arg {
        rust,
        place,
        wire: &p.name,
        ty: Ty::parse(&p.ty).map_err(|e| format!("{}.{}: {e}", op.id(), p.name))?,
        // A path parameter is always needed, whatever the SDK says.
        required: p.required || place == Place::Path,
        description: p.description.as_deref().unwrap_or(""),
    })
}

/// The Rust parameter type of a path, query or header value, and how to turn a value
/// called `v` into what the call stores.
fn value_type(ty: &Ty, v: &str) -> (String, String) {
    match ty {
        Ty::Int => ("i64".into(), format!("{v}.to_string()")),
        Ty::Float => ("f64".into(), format!("{v}.to_string()")),
        Ty::Bool => ("bool".into(), format!("{v}.to_string()")),
        Ty::List(inner) => {
            let (item, _) = value_type(inner, "x");
            let conv = match **inner {
                Ty::Int | Ty::Float | Ty::Bool => ".map(|x| x.to_string())",
                _ => ".map(Into::into)",
            };
            (
                format!("impl IntoIterator<Item = {item}>"),
                format!("{v}.into_iter(){conv}"),
            )
        }
        _ => ("impl Into<String>".into(), format!("{v}.into()")),
    }
}

/// The statement that stores an argument `v` into `call`.
fn store(arg: &Arg<'_>, v: &str) -> String {
    let (_, conv) = value_type(&arg.ty, v);
    match arg.place {
        Place::Path => format!("call.push_path_arg({conv});"),
        Place::Query if matches!(arg.ty, Ty::List(_)) => {
            format!("call.set_query_list({}, {conv});", str_lit(arg.wire))
        }
        Place::Query => format!("call.set_query({}, {conv});", str_lit(arg.wire)),
        Place::Header => format!("call.set_header({}, {conv});", str_lit(arg.wire)),
        Place::Body if arg.ty == Ty::Str => {
            format!("call.set_json_body(&Into::<String>::into({v}));")
        }
        Place::Body => format!("call.set_json_body(&{v});"),
    }
}

fn param_type(arg: &Arg<'_>) -> String {
    match arg.place {
        Place::Body => match arg.ty {
            Ty::Str => "impl Into<String>".into(),
            ref ty => ty.rust("crate::models::"),
        },
        _ => value_type(&arg.ty, "").0,
    }
}

/// `api/src/generated/<group>.rs`.
pub fn group_file(desc: &Description, group: &str) -> Result<String, String> {
    let info = desc
        .groups
        .get(group)
        .ok_or_else(|| format!("no group {group}"))?;
    let ops: Vec<&Operation> = desc
        .operations
        .iter()
        .filter(|o| o.group == group)
        .collect();
    let handle = pascal_case(group);
    let mut out = String::new();
    out.push_str(HEADER);
    let _ = writeln!(
        out,
        "//! The `{group}` operations: {} of them, `{}` in Genesys's SDKs.\n//!\n//! Reached with [`Api::{group}`](crate::Api::{group}) (feature `{group}`); each\n//! operation returns a request builder to finish with `.send().await`.\n",
        ops.len(),
        info.api_class,
    );
    out.push_str("use crate::{ApiCall, Method, Sender};\n\n");
    let _ = writeln!(
        out,
        "/// The `{group}` operations (`{}` in the SDKs), from [`Api::{group}`](crate::Api::{group}).\npub struct {handle}<'a, S> {{\n    sender: &'a S,\n}}\n",
        info.api_class
    );
    let _ = writeln!(
        out,
        "impl<'a, S: Sender> {handle}<'a, S> {{\n    pub(crate) fn new(sender: &'a S) -> Self {{\n        Self {{ sender }}\n    }}"
    );
    let mut builders = String::new();
    for op in &ops {
        let (method, builder) = operation(desc, op, &handle)?;
        out.push('\n');
        out.push_str(&method);
        builders.push('\n');
        builders.push_str(&builder);
    }
    out.push_str("}\n");
    out.push_str(&builders);
    Ok(out)
}

/// The handle's method and the request builder of one operation.
pub fn operation(
    desc: &Description,
    op: &Operation,
    handle: &str,
) -> Result<(String, String), String> {
    let args = args(op)?;
    let builder = pascal_case(&op.name);
    let fn_name = ident(&op.name);
    let http = method_variant(&op.method)?;
    let requires_auth = op.requires_auth()?;
    let (required, optional): (Vec<&Arg<'_>>, Vec<&Arg<'_>>) =
        args.iter().partition(|a| a.required);

    // The handle's method: the docs, the required arguments.
    let mut m = String::new();
    let summary = op.summary.as_deref().unwrap_or("").trim();
    let description = op.description.as_deref().unwrap_or("").trim();
    if summary.is_empty() {
        let _ = writeln!(m, "    /// `{} {}`", op.method, op.path);
    } else {
        m.push_str(&doc_lines(summary, "    "));
    }
    if !description.is_empty() && description != summary {
        m.push_str("    ///\n");
        m.push_str(&doc_lines(description, "    "));
    }
    let _ = writeln!(m, "    ///\n    /// `{} {}`", op.method, op.path);
    let js = op
        .operation_id
        .as_deref()
        .map(|id| format!(", `{id}` in JavaScript"))
        .unwrap_or_default();
    let _ = writeln!(
        m,
        "    ///\n    /// SDK: `{}.{}`{js}.",
        op.api_class, op.name
    );
    if op.preview {
        m.push_str(
            "    ///\n    /// **Preview**: the platform may change or remove it without notice.\n",
        );
    }
    if !requires_auth {
        m.push_str(
            "    ///\n    /// **No credentials**: the platform serves it without OAuth, so it is sent with no\n    /// `Authorization` header and no token is fetched for it (a client built without\n    /// credentials can call it).\n",
        );
    }
    if !required.is_empty() {
        m.push_str("    ///\n    /// # Arguments\n    ///\n");
        for a in &required {
            let text = crate::naming::doc_paragraph(a.description).join(" ");
            let wire = if a.place == Place::Body {
                "the body".to_owned()
            } else {
                format!("`{}`", a.wire)
            };
            if text.is_empty() {
                let _ = writeln!(m, "    /// - `{}` ({wire})", unraw(&a.rust));
            } else {
                let _ = writeln!(m, "    /// - `{}` ({wire}): {text}", unraw(&a.rust));
            }
        }
    }
    if let Some(id) = &op.operation_id {
        let _ = writeln!(m, "    #[doc(alias = {})]", str_lit(id));
    }
    if op.deprecated {
        m.push_str("    #[deprecated(note = \"deprecated by the Platform API\")]\n");
    }
    if required.len() > 7 {
        m.push_str("    #[allow(clippy::too_many_arguments)]\n");
    }
    let params: Vec<String> = required
        .iter()
        .map(|a| format!("{}: {}", a.rust, param_type(a)))
        .collect();
    let mut sig = format!("    pub fn {fn_name}(&self");
    for p in &params {
        sig.push_str(", ");
        sig.push_str(p);
    }
    let _ = write!(sig, ") -> {builder}<'a, S> {{");
    if sig.len() > 100 {
        let _ = writeln!(m, "    pub fn {fn_name}(\n        &self,");
        for p in &params {
            let _ = writeln!(m, "        {p},");
        }
        let _ = writeln!(m, "    ) -> {builder}<'a, S> {{");
    } else {
        m.push_str(&sig);
        m.push('\n');
    }
    let mut_kw = if required.is_empty() && requires_auth {
        ""
    } else {
        "mut "
    };
    let _ = writeln!(
        m,
        "        let {mut_kw}call = ApiCall::new(\n            {},\n            Method::{http},\n            {},\n        );",
        str_lit(&op.id()),
        str_lit(&op.path)
    );
    if !requires_auth {
        m.push_str("        call.set_requires_auth(false);\n");
    }
    for a in &required {
        let _ = writeln!(m, "        {}", store(a, &a.rust));
    }
    let _ = writeln!(
        m,
        "        {builder} {{\n            sender: self.sender,\n            call,\n        }}\n    }}"
    );

    // The builder: optional parameters, send, paginate.
    let mut b = String::new();
    let _ = writeln!(
        b,
        "/// `{} {}`, from [`{handle}::{}`].\n#[must_use = \"a request does nothing until it is sent\"]\npub struct {builder}<'a, S> {{\n    sender: &'a S,\n    call: ApiCall,\n}}\n",
        op.method,
        op.path,
        unraw(&fn_name)
    );
    let _ = writeln!(b, "impl<'a, S: Sender> {builder}<'a, S> {{");
    for a in &optional {
        let text = a.description.trim();
        if text.is_empty() {
            if a.place == Place::Body {
                b.push_str("    /// The request body.\n");
            } else {
                let _ = writeln!(b, "    /// `{}`", a.wire);
            }
        } else {
            b.push_str(&doc_lines(text, "    "));
        }
        let what = match a.place {
            Place::Query if matches!(a.ty, Ty::List(_)) => {
                format!("Query parameter `{}`, repeated for each value.", a.wire)
            }
            Place::Query => format!("Query parameter `{}`.", a.wire),
            Place::Header => format!("Header `{}`.", a.wire),
            Place::Body => "The request body, sent as JSON.".to_owned(),
            Place::Path => String::new(),
        };
        let _ = writeln!(b, "    ///\n    /// {what}");
        let name = if a.place == Place::Body {
            "body".to_owned()
        } else {
            a.rust.clone()
        };
        let _ = writeln!(
            b,
            "    pub fn {name}(mut self, value: {}) -> Self {{\n        let call = &mut self.call;\n        {}\n        self\n    }}\n",
            param_type(a),
            store(a, "value")
        );
    }
    let future =
        |ty: &str| format!("impl std::future::Future<Output = Result<{ty}, S::Error>> + Send + 'a");
    match answer(op)? {
        Answer::Nothing => {
            let _ = writeln!(
                b,
                "    /// Sends the request. The platform answers with no content (anything it\n    /// sends back is ignored).\n    pub fn send(self) -> {} {{\n        self.sender.send_empty(self.call)\n    }}",
                future("()")
            );
        }
        Answer::Text => {
            let _ = writeln!(
                b,
                "    /// Sends the request. The answer is text, not JSON.\n    pub fn send(self) -> {} {{\n        self.sender.send_text(self.call)\n    }}",
                future("String")
            );
        }
        Answer::Json(ty) => {
            let shown = ty
                .strip_prefix("crate::models::")
                .filter(|t| !t.contains('<'));
            match shown {
                Some(model) => {
                    let _ = writeln!(
                        b,
                        "    /// Sends the request; the answer is a [`{model}`]({ty})."
                    );
                }
                None => {
                    let _ = writeln!(b, "    /// Sends the request; the answer is JSON.");
                }
            }
            let _ = writeln!(
                b,
                "    pub fn send(self) -> {} {{\n        self.sender.send(self.call)\n    }}",
                future(&ty)
            );
        }
    }
    if let Some(style) = pager_style(desc, op) {
        let item = op
            .paging
            .as_ref()
            .and_then(|p| p.items.as_ref())
            .map(|i| Ty::parse(&i.ty))
            .transpose()
            .map_err(|e| format!("{}: {e}", op.id()))?
            .ok_or_else(|| format!("{}: a listing without items", op.id()))?;
        let item = item.rust("crate::models::");
        let _ = writeln!(
            b,
            "\n    /// Every item of the listing, fetching pages as the stream is read (the next\n    /// page is found by {style}).\n    pub fn paginate(\n        self,\n    ) -> impl futures_core::Stream<Item = Result<{item}, S::Error>> + Send + use<S> {{\n        self.sender.paginate(self.call)\n    }}"
        );
    }
    b.push_str(
        "\n    /// The request as a value (method, path, query, headers, body), unsent.\n    pub fn into_call(self) -> ApiCall {\n        self.call\n    }\n}\n",
    );
    Ok((m, b))
}

fn method_variant(method: &str) -> Result<&'static str, String> {
    Ok(match method {
        "GET" => "Get",
        "HEAD" => "Head",
        "POST" => "Post",
        "PUT" => "Put",
        "PATCH" => "Patch",
        "DELETE" => "Delete",
        other => return Err(format!("unknown HTTP method {other}")),
    })
}
