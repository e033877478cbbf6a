//! Properties and methods of values, resolved as Velocity 1.7's `UberspectImpl` resolves
//! them on the Java classes behind each value (`getX()`, then `Map.get("x")`, then
//! `isX()`; methods by name, arity and argument types, `Integer` for `int` parameters).

use std::rc::Rc;

use super::java::string_hash;
use super::value::{Scope, Str, Val};

/// A Java exception thrown by a method: its class, and what was called (never a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Thrown {
    pub(crate) exception: &'static str,
    pub(crate) detail: String,
}

impl Thrown {
    pub(crate) fn new(exception: &'static str, detail: impl Into<String>) -> Self {
        Thrown {
            exception,
            detail: detail.into(),
        }
    }
}

pub(crate) type Call<'a> = Result<Val<'a>, Thrown>;

/// `true` when `name` matches `getter` with its first letter in either case (Velocity
/// tries `getfoo` then `getFoo`).
fn named(name: &str, getter: &str) -> bool {
    let mut a = name.chars();
    let mut b = getter.chars();
    match (a.next(), b.next()) {
        (Some(x), Some(y)) if x.eq_ignore_ascii_case(&y) => a.as_str() == b.as_str(),
        _ => false,
    }
}

/// `$obj.name`: the value, or null when there is no such property.
pub(crate) fn property<'a>(obj: &Val<'a>, name: &str) -> Val<'a> {
    if named(name, "class") && !matches!(obj, Val::Null) {
        return Val::Class(obj.class_name());
    }
    match obj {
        Val::Map(entries) => Val::map_get(&entries.borrow(), &Val::str(name)).unwrap_or(Val::Null),
        Val::Str(s) => {
            if named(name, "empty") {
                Val::Bool(s.is_empty())
            } else if named(name, "blank") {
                Val::Bool(s.chars().all(char::is_whitespace))
            } else {
                Val::Null
            }
        }
        Val::List(items, _) if named(name, "empty") => Val::Bool(items.borrow().is_empty()),
        Val::Double(d) if named(name, "naN") => Val::Bool(d.is_nan()),
        Val::Double(d) if named(name, "infinite") => Val::Bool(d.is_infinite()),
        Val::Entry(entry) if named(name, "key") => entry.0.clone(),
        Val::Entry(entry) if named(name, "value") => entry.1.clone(),
        Val::Scope(scope) => scope_property(scope, name).unwrap_or(Val::Null),
        Val::Class(class) if named(name, "name") => Val::string(*class),
        Val::Class(class) if named(name, "simpleName") => Val::string(simple_name(class)),
        Val::Tool(tool) => super::tools::property(*tool, name),
        _ => Val::Null,
    }
}

fn scope_property<'a>(scope: &Rc<Scope>, name: &str) -> Option<Val<'a>> {
    Some(if named(name, "index") {
        Val::Int(scope.index.get())
    } else if named(name, "count") {
        Val::Int(scope.index.get().saturating_add(1))
    } else if named(name, "hasNext") {
        Val::Bool(scope.has_next.get())
    } else if named(name, "first") {
        Val::Bool(scope.index.get() < 1)
    } else if named(name, "last") {
        Val::Bool(!scope.has_next.get())
    } else if named(name, "parent") {
        return scope.parent.clone().map(Val::Scope);
    } else if named(name, "topmost") {
        let mut top = scope.clone();
        while let Some(parent) = top.parent.clone() {
            top = parent;
        }
        Val::Scope(top)
    } else {
        return None;
    })
}

fn simple_name(class: &str) -> String {
    class
        .rsplit(['.', '$'])
        .next()
        .unwrap_or(class)
        .trim_end_matches(';')
        .to_owned()
}

/// `$obj.name(args)`: the result; null when no method fits (name, arity, argument
/// types) or it returned null; `""` for void methods; `Err` when it threw.
pub(crate) fn method<'a>(obj: &Val<'a>, name: &str, args: &[Val<'a>]) -> Call<'a> {
    match (name, args) {
        ("getClass", []) if !obj.is_null() => return Ok(Val::Class(obj.class_name())),
        ("toString", []) if !matches!(obj, Val::Null | Val::Block(_)) => {
            return Ok(Val::string(obj.java_string()))
        }
        ("equals", [other]) if !obj.is_null() => return Ok(Val::Bool(obj.java_equals(other))),
        _ => {}
    }
    match obj {
        Val::Str(s) => string_method(s, name, args),
        Val::Int(_) | Val::Long(_) | Val::Big(_) | Val::Double(_) => {
            Ok(number_method(obj, name, args))
        }
        Val::Bool(b) => Ok(match (name, args) {
            ("booleanValue", []) => Val::Bool(*b),
            ("hashCode", []) => Val::Int(if *b { 1231 } else { 1237 }),
            ("compareTo", [Val::Bool(o)]) => Val::Int(i32::from(*b) - i32::from(*o)),
            _ => Val::Null,
        }),
        Val::List(items, array) => list_method(items, *array, name, args),
        Val::Map(entries) => map_method(entries, name, args),
        Val::Entry(entry) => Ok(match (name, args) {
            ("getKey", []) => entry.0.clone(),
            ("getValue", []) => entry.1.clone(),
            _ => Val::Null,
        }),
        Val::Scope(scope) => Ok(match (name, args) {
            ("hasNext", []) => Val::Bool(scope.has_next.get()),
            ("isFirst", []) => Val::Bool(scope.index.get() < 1),
            ("isLast", []) => Val::Bool(!scope.has_next.get()),
            ("size", []) => Val::Int(0),
            ("isEmpty", []) => Val::Bool(true),
            (n, []) if n.starts_with("get") => scope_property(scope, &n[3..]).unwrap_or(Val::Null),
            _ => Val::Null,
        }),
        Val::Class(class) => Ok(match (name, args) {
            ("getName", []) | ("getTypeName", []) => Val::string(*class),
            ("getSimpleName", []) => Val::string(simple_name(class)),
            _ => Val::Null,
        }),
        Val::Tool(tool) => super::tools::method(*tool, name, args),
        Val::Null | Val::Block(_) => Ok(Val::Null),
    }
}

/// `$obj[index]`: `get(index)` (a negative `Integer` counts from the end).
pub(crate) fn index<'a>(obj: &Val<'a>, key: &Val<'a>) -> Call<'a> {
    let size = match obj {
        Val::List(items, _) => Some(items.borrow().len()),
        Val::Map(entries) => Some(entries.borrow().len()),
        Val::Scope(_) => Some(0),
        _ => None,
    };
    let key = match (key, size) {
        (Val::Int(i), Some(size)) if *i < 0 => {
            Val::Int(i32::try_from(size).unwrap_or(i32::MAX).saturating_add(*i))
        }
        (Val::Int(i), None) if *i < 0 => {
            return Err(Thrown::new(
                "VelocityException",
                "a negative index needs a `size()` method",
            ))
        }
        _ => key.clone(),
    };
    match obj {
        Val::List(items, _) => match key {
            Val::Int(i) => {
                let items = items.borrow();
                usize::try_from(i)
                    .ok()
                    .and_then(|i| items.get(i).cloned())
                    .ok_or_else(|| {
                        Thrown::new(
                            "IndexOutOfBoundsException",
                            "get() past the end of the list",
                        )
                    })
            }
            _ => Ok(Val::Null),
        },
        Val::Map(entries) => Ok(Val::map_get(&entries.borrow(), &key).unwrap_or(Val::Null)),
        _ => Ok(Val::Null),
    }
}

fn arg_int(v: &Val<'_>) -> Option<i32> {
    match v {
        Val::Int(i) => Some(*i),
        _ => None,
    }
}

fn npe(what: &str) -> Thrown {
    Thrown::new(
        "NullPointerException",
        format!("{what} with a null argument"),
    )
}

/// UTF-16 view of a string, for Java's indexes.
fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn from_utf16<'a>(units: &[u16]) -> Val<'a> {
    Val::string(String::from_utf16_lossy(units))
}

/// Java's `indexOf` over UTF-16 units, from `from`.
fn index_of(hay: &[u16], needle: &[u16], from: i32) -> i32 {
    let from = usize::try_from(from.max(0)).unwrap_or(0);
    if needle.is_empty() {
        return i32::try_from(from.min(hay.len())).unwrap_or(-1);
    }
    if from >= hay.len() {
        return -1;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map_or(-1, |p| i32::try_from(p + from).unwrap_or(-1))
}

fn last_index_of(hay: &[u16], needle: &[u16], from: i32) -> i32 {
    if from < 0 {
        return -1;
    }
    let max_start = hay.len().saturating_sub(needle.len());
    let from = usize::try_from(from).unwrap_or(usize::MAX).min(max_start);
    if needle.len() > hay.len() {
        return -1;
    }
    (0..=from)
        .rev()
        .find(|&i| hay[i..i + needle.len()] == *needle)
        .map_or(-1, |p| i32::try_from(p).unwrap_or(-1))
}

fn string_method<'a>(s: &Str<'a>, name: &str, args: &[Val<'a>]) -> Call<'a> {
    let text: &str = s;
    let out = match (name, args) {
        ("length", []) => Val::Int(i32::try_from(text.encode_utf16().count()).unwrap_or(i32::MAX)),
        ("isEmpty", []) => Val::Bool(text.is_empty()),
        ("isBlank", []) => Val::Bool(text.chars().all(char::is_whitespace)),
        ("toUpperCase", []) => Val::string(text.to_uppercase()),
        ("toLowerCase", []) => Val::string(text.to_lowercase()),
        ("trim", []) => Val::string(text.trim_matches(|c: char| c <= ' ')),
        ("strip", []) => Val::string(text.trim()),
        ("stripLeading", []) => Val::string(text.trim_start()),
        ("stripTrailing", []) => Val::string(text.trim_end()),
        ("intern", []) => Val::Str(s.clone()),
        ("hashCode", []) => Val::Int(string_hash(text)),
        ("charAt", [i]) => {
            let Some(i) = arg_int(i) else {
                return Ok(Val::Null);
            };
            let units = utf16(text);
            let unit = usize::try_from(i)
                .ok()
                .and_then(|i| units.get(i))
                .ok_or_else(|| {
                    Thrown::new(
                        "StringIndexOutOfBoundsException",
                        "charAt() outside the string",
                    )
                })?;
            from_utf16(&[*unit])
        }
        ("substring", [a]) => {
            let Some(a) = arg_int(a) else {
                return Ok(Val::Null);
            };
            let units = utf16(text);
            let start = usize::try_from(a)
                .ok()
                .filter(|a| *a <= units.len())
                .ok_or_else(|| {
                    Thrown::new(
                        "StringIndexOutOfBoundsException",
                        "substring() outside the string",
                    )
                })?;
            from_utf16(&units[start..])
        }
        ("substring", [a, b]) => {
            let (Some(a), Some(b)) = (arg_int(a), arg_int(b)) else {
                return Ok(Val::Null);
            };
            let units = utf16(text);
            match (usize::try_from(a), usize::try_from(b)) {
                (Ok(start), Ok(end)) if start <= end && end <= units.len() => {
                    from_utf16(&units[start..end])
                }
                _ => {
                    return Err(Thrown::new(
                        "StringIndexOutOfBoundsException",
                        "substring() outside the string",
                    ))
                }
            }
        }
        ("indexOf" | "lastIndexOf", [needle]) | ("indexOf" | "lastIndexOf", [needle, _]) => {
            let from = match args.get(1) {
                Some(f) => match arg_int(f) {
                    Some(f) => Some(f),
                    None => return Ok(Val::Null),
                },
                None => None,
            };
            let needle: Vec<u16> = match needle {
                Val::Str(n) => utf16(n),
                Val::Int(c) => match char::from_u32(u32::try_from(*c).unwrap_or(u32::MAX)) {
                    Some(c) => c.encode_utf16(&mut [0; 2]).to_vec(),
                    None => return Ok(Val::Int(-1)),
                },
                Val::Null => return Err(npe(name)),
                _ => return Ok(Val::Null),
            };
            let hay = utf16(text);
            if name == "indexOf" {
                Val::Int(index_of(&hay, &needle, from.unwrap_or(0)))
            } else {
                let from = from.unwrap_or(i32::try_from(hay.len()).unwrap_or(i32::MAX));
                Val::Int(last_index_of(&hay, &needle, from))
            }
        }
        (
            "contains"
            | "startsWith"
            | "endsWith"
            | "concat"
            | "equalsIgnoreCase"
            | "compareTo"
            | "compareToIgnoreCase"
            | "contentEquals",
            [other],
        ) => {
            let o = match other {
                Val::Str(o) => o.clone(),
                Val::Null if name == "equalsIgnoreCase" => return Ok(Val::Bool(false)),
                Val::Null => return Err(npe(name)),
                _ => return Ok(Val::Null),
            };
            let o: &str = &o;
            match name {
                "contains" => Val::Bool(text.contains(o)),
                "startsWith" => Val::Bool(text.starts_with(o)),
                "endsWith" => Val::Bool(text.ends_with(o)),
                "concat" => Val::string(format!("{text}{o}")),
                "equalsIgnoreCase" => Val::Bool(
                    text.encode_utf16().count() == o.encode_utf16().count()
                        && text.to_lowercase() == o.to_lowercase(),
                ),
                "compareTo" => Val::Int(compare_utf16(text, o)),
                "compareToIgnoreCase" => {
                    Val::Int(compare_utf16(&text.to_lowercase(), &o.to_lowercase()))
                }
                _ => Val::Bool(text == o),
            }
        }
        ("startsWith", [prefix, offset]) => {
            let (Val::Str(p), Some(off)) = (prefix, arg_int(offset)) else {
                return Ok(Val::Null);
            };
            let hay = utf16(text);
            let p = utf16(p);
            Val::Bool(
                usize::try_from(off)
                    .ok()
                    .and_then(|off| hay.get(off..))
                    .is_some_and(|rest| rest.starts_with(&p)),
            )
        }
        ("replace", [a, b]) => match (a, b) {
            (Val::Str(a), Val::Str(b)) => Val::string(java_replace(text, a, b)),
            (Val::Null, _) | (_, Val::Null) => return Err(npe("replace")),
            _ => Val::Null,
        },
        ("replaceAll" | "replaceFirst", [re, rep]) => match (re, rep) {
            (Val::Str(re), Val::Str(rep)) => {
                let regex = java_regex(re)?;
                Val::string(regex_replace(&regex, text, rep, name == "replaceAll")?)
            }
            (Val::Null, _) | (_, Val::Null) => return Err(npe(name)),
            _ => Val::Null,
        },
        ("matches", [re]) => match re {
            Val::Str(re) => {
                let regex = java_regex(&format!("^(?:{})$", &**re))?;
                Val::Bool(regex.is_match(text))
            }
            Val::Null => return Err(npe("matches")),
            _ => Val::Null,
        },
        ("split", [re]) | ("split", [re, _]) => {
            let limit = match args.get(1) {
                Some(l) => match arg_int(l) {
                    Some(l) => l,
                    None => return Ok(Val::Null),
                },
                None => 0,
            };
            match re {
                Val::Str(re) => {
                    let parts = java_split(text, re, limit)?;
                    Val::List(
                        Rc::new(std::cell::RefCell::new(
                            parts.into_iter().map(Val::string).collect(),
                        )),
                        true,
                    )
                }
                Val::Null => return Err(npe("split")),
                _ => Val::Null,
            }
        }
        ("repeat", [n]) => {
            let Some(n) = arg_int(n) else {
                return Ok(Val::Null);
            };
            let n = usize::try_from(n).map_err(|_| {
                Thrown::new("IllegalArgumentException", "repeat() of a negative count")
            })?;
            if text.len().saturating_mul(n) > super::render::MAX_OUTPUT {
                return Err(Thrown::new(
                    "OutOfMemoryError",
                    "repeat() result is too large",
                ));
            }
            Val::string(text.repeat(n))
        }
        ("format", [Val::Str(fmt), rest @ ..]) => {
            Val::string(super::format::java_format(fmt, rest)?)
        }
        ("valueOf", [v]) => Val::string(v.java_string()),
        _ => Val::Null,
    };
    Ok(out)
}

fn compare_utf16(a: &str, b: &str) -> i32 {
    let (a, b) = (utf16(a), utf16(b));
    for (x, y) in a.iter().zip(b.iter()) {
        if x != y {
            return i32::from(*x) - i32::from(*y);
        }
    }
    i32::try_from(a.len()).unwrap_or(i32::MAX) - i32::try_from(b.len()).unwrap_or(i32::MAX)
}

/// `String.replace(CharSequence, CharSequence)`; an empty target inserts between
/// every character.
fn java_replace(text: &str, target: &str, replacement: &str) -> String {
    if target.is_empty() {
        let mut out = String::with_capacity(text.len() * (replacement.len() + 1));
        out.push_str(replacement);
        for c in text.chars() {
            out.push(c);
            out.push_str(replacement);
        }
        out
    } else {
        text.replace(target, replacement)
    }
}

/// A Java regular expression, compiled with the `regex` crate (size-limited).
pub(crate) fn java_regex(pattern: &str) -> Result<regex::Regex, Thrown> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|_| {
            Thrown::new(
                "PatternSyntaxException",
                "the regular expression is not supported or not valid",
            )
        })
}

/// Java's `Matcher.replaceAll/replaceFirst` replacement syntax: `$n`, `${name}` and
/// `\x` for a literal `x`.
fn regex_replace(re: &regex::Regex, text: &str, rep: &str, all: bool) -> Result<String, Thrown> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        let mut chars = rep.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(x) => out.push(x),
                    None => {
                        return Err(Thrown::new(
                            "IllegalArgumentException",
                            "character to be escaped is missing",
                        ))
                    }
                },
                '$' => {
                    if chars.peek() == Some(&'{') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                        match caps.name(&name) {
                            Some(g) => out.push_str(g.as_str()),
                            None => {
                                return Err(Thrown::new(
                                    "IllegalArgumentException",
                                    "no group with that name",
                                ))
                            }
                        }
                    } else {
                        let mut digits = String::new();
                        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                            // Java takes more digits only while they name an existing group.
                            let candidate = format!("{digits}{d}");
                            if digits.is_empty()
                                || candidate.parse::<usize>().is_ok_and(|n| n < caps.len())
                            {
                                digits = candidate;
                                chars.next();
                            } else {
                                break;
                            }
                        }
                        let group: usize = digits.parse().map_err(|_| {
                            Thrown::new("IllegalArgumentException", "Illegal group reference")
                        })?;
                        if group >= caps.len() {
                            return Err(Thrown::new(
                                "IndexOutOfBoundsException",
                                "a group the pattern does not have",
                            ));
                        }
                        if let Some(g) = caps.get(group) {
                            out.push_str(g.as_str());
                        }
                    }
                }
                c => out.push(c),
            }
        }
        last = m.end();
        if !all {
            break;
        }
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// `String.split(regex, limit)` with Java's rules for leading and trailing empty strings.
fn java_split(text: &str, pattern: &str, limit: i32) -> Result<Vec<String>, Thrown> {
    let re = java_regex(pattern)?;
    let mut parts = Vec::new();
    let mut last = 0;
    let mut matched = false;
    for m in re.find_iter(text) {
        if limit > 0 && parts.len() + 1 >= usize::try_from(limit).unwrap_or(usize::MAX) {
            break;
        }
        if m.end() == 0 {
            // A zero-width match at the start yields no leading empty string.
            continue;
        }
        matched = true;
        parts.push(text[last..m.start()].to_owned());
        last = m.end();
    }
    if !matched {
        return Ok(vec![text.to_owned()]);
    }
    parts.push(text[last..].to_owned());
    if limit == 0 {
        while parts.last().is_some_and(String::is_empty) {
            parts.pop();
        }
    }
    Ok(parts)
}

fn number_method<'a>(obj: &Val<'a>, name: &str, args: &[Val<'a>]) -> Val<'a> {
    let d = obj.as_f64().unwrap_or(f64::NAN);
    match (name, args) {
        ("intValue", []) => Val::Int(obj.int_value().unwrap_or(0)),
        ("longValue", []) => Val::Long(match obj {
            Val::Int(i) => i64::from(*i),
            Val::Long(l) => *l,
            Val::Big(b) => *b as i64,
            _ => d as i64,
        }),
        ("doubleValue", []) => Val::Double(d),
        ("isNaN", []) if matches!(obj, Val::Double(_)) => Val::Bool(d.is_nan()),
        ("isInfinite", []) if matches!(obj, Val::Double(_)) => Val::Bool(d.is_infinite()),
        ("hashCode", []) => match obj {
            Val::Int(i) => Val::Int(*i),
            Val::Long(l) => Val::Int((*l ^ (*l >> 32)) as i32),
            Val::Double(d) => {
                let bits = d.to_bits();
                Val::Int((bits ^ (bits >> 32)) as i32)
            }
            _ => Val::Null,
        },
        ("compareTo", [other]) if other.class_name() == obj.class_name() => {
            let o = other.as_f64().unwrap_or(f64::NAN);
            Val::Int(match d.partial_cmp(&o) {
                Some(std::cmp::Ordering::Less) => -1,
                Some(std::cmp::Ordering::Greater) => 1,
                _ => 0,
            })
        }
        _ => Val::Null,
    }
}

fn list_method<'a>(
    items: &Rc<std::cell::RefCell<Vec<Val<'a>>>>,
    array: bool,
    name: &str,
    args: &[Val<'a>],
) -> Call<'a> {
    let oob =
        |_: i32, _: usize| Thrown::new("IndexOutOfBoundsException", "an index outside the list");
    let out = match (name, args) {
        ("size", []) => Val::Int(i32::try_from(items.borrow().len()).unwrap_or(i32::MAX)),
        ("isEmpty", []) => Val::Bool(items.borrow().is_empty()),
        ("get", [i]) => {
            let Some(i) = arg_int(i) else {
                return Ok(Val::Null);
            };
            let items = items.borrow();
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i).cloned())
                .ok_or_else(|| oob(i, items.len()))?
        }
        ("contains", [x]) => Val::Bool(items.borrow().iter().any(|v| v.java_equals(x))),
        ("indexOf", [x]) => Val::Int(
            items
                .borrow()
                .iter()
                .position(|v| v.java_equals(x))
                .map_or(-1, |p| i32::try_from(p).unwrap_or(-1)),
        ),
        ("lastIndexOf", [x]) => Val::Int(
            items
                .borrow()
                .iter()
                .rposition(|v| v.java_equals(x))
                .map_or(-1, |p| i32::try_from(p).unwrap_or(-1)),
        ),
        ("set", [i, x]) => {
            let Some(i) = arg_int(i) else {
                return Ok(Val::Null);
            };
            let mut items = items.borrow_mut();
            let len = items.len();
            let slot = usize::try_from(i)
                .ok()
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| oob(i, len))?;
            std::mem::replace(slot, x.clone())
        }
        ("add", [x]) if !array => {
            items.borrow_mut().push(x.clone());
            Val::Bool(true)
        }
        ("add", [i, x]) if !array => {
            let Some(i) = arg_int(i) else {
                return Ok(Val::Null);
            };
            let mut items = items.borrow_mut();
            let len = items.len();
            let at = usize::try_from(i)
                .ok()
                .filter(|i| *i <= len)
                .ok_or_else(|| oob(i, len))?;
            items.insert(at, x.clone());
            Val::string("")
        }
        ("remove", [Val::Int(i)]) if !array => {
            let mut items = items.borrow_mut();
            let len = items.len();
            let at = usize::try_from(*i)
                .ok()
                .filter(|i| *i < len)
                .ok_or_else(|| oob(*i, len))?;
            items.remove(at)
        }
        ("remove", [x]) if !array => {
            let mut items = items.borrow_mut();
            match items.iter().position(|v| v.java_equals(x)) {
                Some(at) => {
                    items.remove(at);
                    Val::Bool(true)
                }
                None => Val::Bool(false),
            }
        }
        ("clear", []) if !array => {
            items.borrow_mut().clear();
            Val::string("")
        }
        ("addAll", [Val::List(other, _)]) if !array => {
            let other: Vec<Val<'a>> = other.borrow().clone();
            let changed = !other.is_empty();
            items.borrow_mut().extend(other);
            Val::Bool(changed)
        }
        ("containsAll", [Val::List(other, _)]) => {
            let items = items.borrow();
            Val::Bool(
                other
                    .borrow()
                    .iter()
                    .all(|x| items.iter().any(|v| v.java_equals(x))),
            )
        }
        ("subList", [a, b]) => {
            let (Some(a), Some(b)) = (arg_int(a), arg_int(b)) else {
                return Ok(Val::Null);
            };
            let items = items.borrow();
            match (usize::try_from(a), usize::try_from(b)) {
                (Ok(a), Ok(b)) if a <= b && b <= items.len() => Val::list(items[a..b].to_vec()),
                _ => return Err(oob(b, items.len())),
            }
        }
        _ => Val::Null,
    };
    Ok(out)
}

fn map_method<'a>(
    entries: &Rc<std::cell::RefCell<Vec<(Val<'a>, Val<'a>)>>>,
    name: &str,
    args: &[Val<'a>],
) -> Call<'a> {
    let out = match (name, args) {
        ("get", [k]) => Val::map_get(&entries.borrow(), k).unwrap_or(Val::Null),
        ("getOrDefault", [k, d]) => {
            let entries = entries.borrow();
            match entries.iter().find(|(key, _)| key.java_equals(k)) {
                Some((_, v)) => v.clone(),
                None => d.clone(),
            }
        }
        ("containsKey", [k]) => {
            Val::Bool(entries.borrow().iter().any(|(key, _)| key.java_equals(k)))
        }
        ("containsValue", [v]) => {
            Val::Bool(entries.borrow().iter().any(|(_, val)| val.java_equals(v)))
        }
        ("put", [k, v]) => map_put(entries, k.clone(), v.clone()),
        ("putIfAbsent", [k, v]) => {
            let existing = Val::map_get(&entries.borrow(), k);
            match existing {
                Some(e) if !e.is_null() => e,
                _ => map_put(entries, k.clone(), v.clone()),
            }
        }
        ("remove", [k]) => {
            let mut entries = entries.borrow_mut();
            match entries.iter().position(|(key, _)| key.java_equals(k)) {
                Some(at) => entries.remove(at).1,
                None => Val::Null,
            }
        }
        ("putAll", [Val::Map(other)]) => {
            let other: Vec<(Val<'a>, Val<'a>)> = other.borrow().clone();
            for (k, v) in other {
                map_put(entries, k, v);
            }
            Val::string("")
        }
        ("clear", []) => {
            entries.borrow_mut().clear();
            Val::string("")
        }
        ("size", []) => Val::Int(i32::try_from(entries.borrow().len()).unwrap_or(i32::MAX)),
        ("isEmpty", []) => Val::Bool(entries.borrow().is_empty()),
        ("keySet", []) => Val::list(entries.borrow().iter().map(|(k, _)| k.clone()).collect()),
        ("values", []) => Val::list(entries.borrow().iter().map(|(_, v)| v.clone()).collect()),
        ("entrySet", []) => Val::list(
            entries
                .borrow()
                .iter()
                .map(|(k, v)| Val::Entry(Rc::new((k.clone(), v.clone()))))
                .collect(),
        ),
        _ => Val::Null,
    };
    Ok(out)
}

/// `Map.put`: the previous value (null if none); a new key goes last.
pub(crate) fn map_put<'a>(
    entries: &Rc<std::cell::RefCell<Vec<(Val<'a>, Val<'a>)>>>,
    key: Val<'a>,
    value: Val<'a>,
) -> Val<'a> {
    let mut entries = entries.borrow_mut();
    match entries.iter_mut().find(|(k, _)| k.java_equals(&key)) {
        Some(entry) => std::mem::replace(&mut entry.1, value),
        None => {
            entries.push((key, value));
            Val::Null
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_follows_java() {
        assert_eq!(java_split("a,b,,c", ",", 0).unwrap(), ["a", "b", "", "c"]);
        assert_eq!(java_split("a,b,,", ",", 0).unwrap(), ["a", "b"]);
        assert_eq!(java_split(",a", ",", 0).unwrap(), ["", "a"]);
        assert_eq!(java_split("", ",", 0).unwrap(), [""]);
        assert_eq!(java_split("abc", "", 0).unwrap(), ["a", "b", "c"]);
        assert_eq!(java_split("a,b,c", ",", 2).unwrap(), ["a", "b,c"]);
    }

    #[test]
    fn replacement_syntax_follows_java() {
        let re = java_regex("(o)").unwrap();
        assert_eq!(regex_replace(&re, "foo", "[$1]", true).unwrap(), "f[o][o]");
        assert_eq!(regex_replace(&re, "foo", "\\$", false).unwrap(), "f$o");
        assert!(regex_replace(&re, "foo", "$x", true).is_err());
    }
}
