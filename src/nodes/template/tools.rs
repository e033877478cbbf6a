//! The tools in a Data Action template's context.
//!
//! - `$esc`: velocity-tools 2.0 `EscapeTool` (<https://velocity.apache.org/tools/2.0/apidocs/org/apache/velocity/tools/generic/EscapeTool.html>),
//!   plus `jsonString`, `urlFormEncode` and `uriEncode`, which Genesys adds
//!   (<https://help.mypurecloud.com/articles/velocity-macros-data-actions/>,
//!   <https://help.mypurecloud.com/?p=296518>);
//! - `$math`: velocity-tools 2.0 `MathTool`, including its quirks (`max` of negative
//!   numbers starts from `Double.MIN_VALUE`, results are `Integer` when whole);
//! - `$encoding.base64` (Genesys: `Basic $encoding.base64("${credentials.clientId}:${credentials.clientSecret}")`);
//! - `$successTemplateUtils.firstFromArray` (Genesys exports: the first element of a
//!   JSON array as JSON text, or the default).

use super::java::{
    escape_entities, escape_java_style, escape_property, json_string_escape, parse_number_prefix,
    uri_encode, url_form_encode, ParsedNumber,
};
use super::methods::{property as value_property, Call, Thrown};
use super::value::{java_d2i, Json, Tool, Val};

/// `$tool.name` (the tools' `getX()` properties).
pub(crate) fn property<'a>(tool: Tool, name: &str) -> Val<'a> {
    let lower = |s: &str| {
        let mut c = s.chars();
        match c.next() {
            Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
            None => String::new(),
        }
    };
    let name = lower(name);
    match tool {
        Tool::Esc => Val::str(match name.as_str() {
            "dollar" | "d" => "$",
            "hash" | "h" => "#",
            "backslash" | "b" => "\\",
            "quote" | "q" => "\"",
            "singleQuote" | "s" => "'",
            "newline" | "n" => "\n",
            "exclamation" | "e" => "!",
            "key" => "esc",
            _ => return Val::Null,
        }),
        Tool::Math if name == "random" => Val::Double(random_unit()),
        _ => Val::Null,
    }
}

/// `$tool.name(args)`.
pub(crate) fn method<'a>(tool: Tool, name: &str, args: &[Val<'a>]) -> Call<'a> {
    match tool {
        Tool::Esc => Ok(esc(name, args)?),
        Tool::Math => Ok(math(name, args)),
        Tool::Encoding => Ok(match (name, args) {
            ("base64", [v]) if !v.is_null() => Val::string(base64(v.java_string().as_bytes())),
            _ => Val::Null,
        }),
        Tool::SuccessTemplateUtils => success_utils(name, args),
    }
}

fn esc<'a>(name: &str, args: &[Val<'a>]) -> Call<'a> {
    if let ([], Some(getter)) = (args, name.strip_prefix("get")) {
        return Ok(property(Tool::Esc, getter));
    }
    let [arg] = args else { return Ok(Val::Null) };
    if arg.is_null() {
        return Ok(Val::Null);
    }
    let s = arg.java_string();
    Ok(Val::string(match name {
        "velocity" => s.replace('$', "${esc.d}").replace('#', "${esc.h}"),
        "java" => escape_java_style(&s, false),
        "javascript" => escape_java_style(&s, true),
        "propertyKey" => escape_property(&s, true),
        "propertyValue" => escape_property(&s, false),
        "html" => escape_entities(&s, true),
        "xml" => escape_entities(&s, false),
        "sql" => s.replace('\'', "''"),
        "url" | "urlFormEncode" => url_form_encode(&s),
        "uriEncode" => uri_encode(&s),
        "jsonString" => json_string_escape(&s),
        "unicode" => {
            let hex = s.strip_prefix("\\u").unwrap_or(&s);
            let code = i64::from_str_radix(hex, 16)
                .ok()
                .and_then(|c| u32::try_from(c).ok())
                .ok_or_else(|| {
                    Thrown::new(
                        "NumberFormatException",
                        "unicode() of a value that is not hexadecimal",
                    )
                })?;
            char::from_u32(code)
                .ok_or_else(|| {
                    Thrown::new(
                        "IllegalArgumentException",
                        "unicode() of a value that is not a code point",
                    )
                })?
                .to_string()
        }
        _ => return Ok(Val::Null),
    }))
}

/// `ConversionUtils.toNumber(obj)`: a number as is; anything else parsed from its text.
fn to_number<'a>(v: &Val<'a>) -> Option<Val<'a>> {
    match v {
        Val::Null => None,
        v if v.is_number() => Some(v.clone()),
        v => parse_number_prefix(&v.java_string()).map(|n| match n {
            ParsedNumber::Long(l) => Val::Long(l),
            ParsedNumber::Double(d) => Val::Double(d),
        }),
    }
}

/// `MathTool.matchType`: `Integer`/`Long` when `out` is whole and no input prints a
/// `.`, else `Double`.
fn match_type<'a>(out: f64, inputs: &[Option<&Val<'_>>]) -> Val<'a> {
    let mut integral = out.round_ties_even() == out;
    if integral {
        for n in inputs {
            match n {
                None => break,
                Some(n) if n.java_string().contains('.') => {
                    integral = false;
                    break;
                }
                Some(_) => {}
            }
        }
    }
    if !integral {
        Val::Double(out)
    } else if out > f64::from(i32::MAX) || out < f64::from(i32::MIN) {
        Val::Long(out as i64)
    } else {
        Val::Int(out as i32)
    }
}

fn math<'a>(name: &str, args: &[Val<'a>]) -> Val<'a> {
    let nums: Option<Vec<Val<'a>>> = args.iter().map(to_number).collect();
    let f = |v: &Val<'_>| v.as_f64().unwrap_or(f64::NAN);
    match name {
        // The varargs forms; velocity-tools 2.0 never fills the array it passes to
        // matchType, so only the result's value decides its type.
        "add" | "sub" | "mul" | "div" | "max" | "min" => {
            let Some(nums) = nums else { return Val::Null };
            let mut value = match name {
                "add" => 0.0,
                "mul" => 1.0,
                // Double.MIN_VALUE, the smallest positive double.
                "max" => f64::from_bits(1),
                "min" => f64::MAX,
                _ => 0.0,
            };
            for (i, n) in nums.iter().enumerate() {
                let x = f(n);
                match name {
                    "add" => value += x,
                    "mul" => value *= x,
                    "max" => value = java_max(value, x),
                    "min" => value = java_min(value, x),
                    "sub" if i == 0 => value = x,
                    "sub" => value -= x,
                    _ if i == 0 => value = x,
                    _ => {
                        if x == 0.0 {
                            return Val::Null;
                        }
                        value /= x;
                    }
                }
            }
            match_type(value, &[None])
        }
        "pow" => match nums.as_deref() {
            Some([a, b]) => match_type(f(a).powf(f(b)), &[Some(a), Some(b)]),
            _ => Val::Null,
        },
        "abs" => match nums.as_deref() {
            Some([a]) => match_type(f(a).abs(), &[Some(a)]),
            _ => Val::Null,
        },
        "idiv" | "mod" => match nums.as_deref() {
            Some([a, b]) => {
                let (a, b) = (a.int_value().unwrap_or(0), b.int_value().unwrap_or(0));
                if b == 0 {
                    Val::Null
                } else if name == "idiv" {
                    Val::Int(a.wrapping_div(b))
                } else {
                    Val::Int(a.wrapping_rem(b))
                }
            }
            _ => Val::Null,
        },
        "ceil" | "floor" | "round" => match nums.as_deref() {
            Some([a]) => {
                let x = f(a);
                Val::Int(java_d2i(match name {
                    "ceil" => x.ceil(),
                    "floor" => x.floor(),
                    _ => x.round_ties_even(),
                }))
            }
            _ => Val::Null,
        },
        "roundTo" => match nums.as_deref() {
            Some([places, n]) => {
                let places = places.int_value().unwrap_or(0);
                let mut delta: i32 = 10;
                for _ in 1..places.min(64) {
                    delta = delta.wrapping_mul(10);
                }
                let delta = f64::from(delta);
                Val::Double(java_round(f(n) * delta) as f64 / delta)
            }
            _ => Val::Null,
        },
        "random" => match nums.as_deref() {
            Some([a, b]) => {
                let r = (f(b) - f(a)) * random_unit() + f(a);
                if format!("{}{}", a.java_string(), b.java_string()).contains('.') {
                    Val::Double(r)
                } else {
                    match_type(r.floor(), &[Some(a), Some(b)])
                }
            }
            _ => Val::Null,
        },
        "getRandom" if args.is_empty() => Val::Double(random_unit()),
        "toInteger" => match nums.as_deref() {
            Some([a]) => Val::Int(a.int_value().unwrap_or(0)),
            _ => Val::Null,
        },
        "toDouble" => match nums.as_deref() {
            Some([a]) => Val::Double(f(a)),
            _ => Val::Null,
        },
        "toNumber" => match args {
            [a] => to_number(a).unwrap_or(Val::Null),
            _ => Val::Null,
        },
        "getTotal" | "getAverage" => {
            let items: Vec<Val<'a>> = match args {
                [Val::List(items, _)] => items.borrow().clone(),
                [Val::List(items, _), Val::Str(field)] => items
                    .borrow()
                    .iter()
                    .map(|item| value_property(item, field))
                    .filter(|v| !v.is_null())
                    .collect(),
                [] | [Val::List(..), _] => return Val::Null,
                other => other.to_vec(),
            };
            let with_field = matches!(args, [Val::List(..), Val::Str(_)]);
            let mut total = 0.0;
            let mut first: Option<Val<'a>> = None;
            for item in &items {
                match to_number(item) {
                    Some(n) => {
                        total += f(&n);
                        first.get_or_insert(n);
                    }
                    None if with_field => {}
                    None => return Val::Null,
                }
            }
            let total = match_type(total, &[first.as_ref()]);
            if name == "getTotal" {
                total
            } else {
                let avg = f(&total) / items.len() as f64;
                match_type(avg, &[Some(&total)])
            }
        }
        _ => Val::Null,
    }
}

/// `Math.max` (NaN wins).
fn java_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn java_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// `Math.round(double)`: floor(x + 0.5) as a long, saturating, NaN as 0.
fn java_round(x: f64) -> i64 {
    if x.is_nan() {
        0
    } else {
        (x + 0.5).floor() as i64
    }
}

/// A double in [0, 1): `Math.random()`.
fn random_unit() -> f64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[..8]);
    (u64::from_le_bytes(n) >> 11) as f64 / (1u64 << 53) as f64
}

fn success_utils<'a>(name: &str, args: &[Val<'a>]) -> Call<'a> {
    match (name, args) {
        ("firstFromArray", [json]) | ("firstFromArray", [json, _]) => {
            let default = match args.get(1) {
                Some(Val::Str(d)) => Some(d.to_string()),
                Some(Val::Null) | None => None,
                Some(_) => return Ok(Val::Null),
            };
            let text = match json {
                Val::Str(s) => s.to_string(),
                Val::Null => {
                    return Err(Thrown::new("IllegalArgumentException", "firstFromArray() of a null value"))
                }
                _ => return Ok(Val::Null),
            };
            let parsed = Json::parse(&text)
                .map_err(|_| Thrown::new("JsonParseException", "firstFromArray() of text that is not JSON"))?;
            match (parsed, default) {
                (Json::Array(items), _) if !items.is_empty() => {
                    Ok(Val::string(items.first().map(Json::to_jackson).unwrap_or_default()))
                }
                (_, Some(default)) => Ok(Val::string(default)),
                (_, None) => Err(Thrown::new(
                    "IllegalArgumentException",
                    "firstFromArray() of an empty array without a default",
                )),
            }
        }
        ("moveKeysIntoArrayOfObjects", _) => Err(Thrown::new(
            "UnsupportedOperationException",
            "successTemplateUtils.moveKeysIntoArrayOfObjects is listed by Genesys without a readable description; this engine does not emulate it",
        )),
        _ => Ok(Val::Null),
    }
}

/// Standard Base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"abc:xyz?"), "YWJjOnh5ej8=");
        assert_eq!(base64("é".as_bytes()), "w6k=");
        assert_eq!(base64(b"a"), "YQ==");
    }

    #[test]
    fn math_tool_quirks() {
        let m = |name: &str, args: &[Val<'static>]| math(name, args).java_string();
        assert_eq!(m("add", &[Val::Double(2.0), Val::Double(1.0)]), "3");
        assert_eq!(m("max", &[Val::Int(-5), Val::Int(-3)]), "4.9E-324");
        assert_eq!(m("abs", &[Val::Double(-2.0)]), "2.0");
        assert_eq!(m("roundTo", &[Val::Int(0), Val::Double(1.23456)]), "1.2");
        assert_eq!(m("round", &[Val::Double(2.5)]), "2");
        assert_eq!(m("div", &[Val::Int(1), Val::Int(0)]), "null");
        assert_eq!(m("getAverage", &[Val::list(vec![])]), "NaN");
    }
}
