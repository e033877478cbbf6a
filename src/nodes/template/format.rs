//! `String.format` for the conversions templates use: `%s %S %d %f %x %X %c %b %% %n`
//! with the flags `- 0 + , ` (space), width, precision and `n$` argument indexes.
//! `%f` rounds half up on the shortest decimal form of the double, as Java does.

use super::methods::Thrown;
use super::value::Val;

/// The largest width or precision honoured (a format is template text, but keep it bounded).
const MAX_WIDTH: usize = 10_000;

pub(crate) fn java_format(fmt: &str, args: &[Val<'_>]) -> Result<String, Thrown> {
    let bad = |what: &str| Thrown::new("IllegalFormatException", what.to_owned());
    let mut out = String::with_capacity(fmt.len() + 16);
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut next_arg = 0usize;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        // [argument_index$]
        let spec_start = i;
        let mut num = String::new();
        while i < chars.len() && chars[i].is_ascii_digit() {
            num.push(chars[i]);
            i += 1;
        }
        let mut explicit = None;
        if i < chars.len() && chars[i] == '$' && !num.is_empty() {
            explicit = num.parse::<usize>().ok();
            i += 1;
        } else {
            i = spec_start;
        }
        let mut left = false;
        let mut zero = false;
        let mut plus = false;
        let mut space = false;
        let mut group = false;
        while i < chars.len() {
            match chars[i] {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' => space = true,
                ',' => group = true,
                _ => break,
            }
            i += 1;
        }
        let mut width = String::new();
        while i < chars.len() && chars[i].is_ascii_digit() {
            width.push(chars[i]);
            i += 1;
        }
        let mut precision = None;
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let mut p = String::new();
            while i < chars.len() && chars[i].is_ascii_digit() {
                p.push(chars[i]);
                i += 1;
            }
            precision = Some(
                p.parse::<usize>()
                    .map_err(|_| bad("precision"))?
                    .min(MAX_WIDTH),
            );
        }
        let Some(&conv) = chars.get(i) else {
            return Err(bad("a format specifier is incomplete"));
        };
        i += 1;
        let width: usize = if width.is_empty() {
            0
        } else {
            width
                .parse::<usize>()
                .map_err(|_| bad("width"))?
                .min(MAX_WIDTH)
        };
        let text = match conv {
            '%' => "%".to_owned(),
            'n' => {
                out.push('\n');
                continue;
            }
            _ => {
                let index = match explicit {
                    Some(n) => n.checked_sub(1).ok_or_else(|| bad("argument index"))?,
                    None => {
                        next_arg += 1;
                        next_arg - 1
                    }
                };
                let arg = args.get(index).ok_or_else(|| {
                    Thrown::new(
                        "MissingFormatArgumentException",
                        format!("Format specifier '%{conv}'"),
                    )
                })?;
                convert(conv, arg, precision, plus, space, group)?
            }
        };
        let len = text.chars().count();
        if len >= width {
            out.push_str(&text);
        } else if left {
            out.push_str(&text);
            out.extend(std::iter::repeat_n(' ', width - len));
        } else if zero && matches!(conv, 'd' | 'f' | 'x' | 'X' | 'e') {
            let (sign, digits) = match text.strip_prefix(['-', '+', ' ']) {
                Some(rest) => (&text[..1], rest),
                None => ("", text.as_str()),
            };
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', width - len));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', width - len));
            out.push_str(&text);
        }
    }
    Ok(out)
}

fn convert(
    conv: char,
    arg: &Val<'_>,
    precision: Option<usize>,
    plus: bool,
    space: bool,
    group: bool,
) -> Result<String, Thrown> {
    let mismatch = || {
        Thrown::new(
            "IllegalFormatConversionException",
            format!("{conv} != {}", arg.class_name()),
        )
    };
    let signed = |digits: String, negative: bool| -> String {
        if negative {
            format!("-{digits}")
        } else if plus {
            format!("+{digits}")
        } else if space {
            format!(" {digits}")
        } else {
            digits
        }
    };
    Ok(match conv {
        's' | 'S' => {
            let mut s = arg.java_string();
            if let Some(p) = precision {
                s = s.chars().take(p).collect();
            }
            if conv == 'S' {
                s.to_uppercase()
            } else {
                s
            }
        }
        'b' | 'B' => {
            let b = match arg {
                Val::Null => false,
                Val::Bool(b) => *b,
                _ => true,
            };
            let s = b.to_string();
            if conv == 'B' {
                s.to_uppercase()
            } else {
                s
            }
        }
        'c' => match arg {
            Val::Str(s) if s.chars().count() == 1 => s.to_string(),
            Val::Int(i) => char::from_u32(u32::try_from(*i).unwrap_or(u32::MAX))
                .map(String::from)
                .ok_or_else(mismatch)?,
            _ => return Err(mismatch()),
        },
        'd' => {
            let v: i128 = match arg {
                Val::Int(i) => i128::from(*i),
                Val::Long(l) => i128::from(*l),
                Val::Big(b) => *b,
                _ => return Err(mismatch()),
            };
            let mut digits = v.unsigned_abs().to_string();
            if group {
                digits = group_thousands(&digits);
            }
            signed(digits, v < 0)
        }
        'x' | 'X' => {
            let s = match arg {
                Val::Int(i) => format!("{:x}", *i as u32),
                Val::Long(l) => format!("{:x}", *l as u64),
                Val::Big(b) if *b >= 0 => format!("{b:x}"),
                Val::Big(b) => format!("-{:x}", b.unsigned_abs()),
                _ => return Err(mismatch()),
            };
            if conv == 'X' {
                s.to_uppercase()
            } else {
                s
            }
        }
        'f' => {
            let d = match arg {
                Val::Double(d) => *d,
                _ => return Err(mismatch()),
            };
            if d.is_nan() {
                return Ok("NaN".into());
            }
            if d.is_infinite() {
                return Ok(signed("Infinity".into(), d < 0.0));
            }
            let mut digits = fixed_half_up(d.abs(), precision.unwrap_or(6));
            if group {
                let (int, frac) = digits.split_once('.').unwrap_or((digits.as_str(), ""));
                let int = group_thousands(int);
                digits = if frac.is_empty() {
                    int
                } else {
                    format!("{int}.{frac}")
                };
            }
            signed(digits, d.is_sign_negative() && d != 0.0)
        }
        _ => {
            return Err(Thrown::new(
                "UnknownFormatConversionException",
                format!("Conversion = '{conv}' is not supported here"),
            ))
        }
    })
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `d` (not negative) with `precision` fraction digits, rounding half up on the
/// shortest decimal digits of `d` (Java's `Formatter`).
fn fixed_half_up(d: f64, precision: usize) -> String {
    let sci = format!("{d:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    // Decimal digits with the point after `point` digits (may be negative or beyond).
    let point = exp + 1;
    let keep = point + i64::try_from(precision).unwrap_or(0);
    let mut kept: Vec<u8> = Vec::new();
    if keep > 0 {
        for k in 0..keep {
            kept.push(
                digits
                    .get(usize::try_from(k).unwrap_or(usize::MAX))
                    .copied()
                    .unwrap_or(0),
            );
        }
        let next = usize::try_from(keep)
            .ok()
            .and_then(|k| digits.get(k))
            .copied()
            .unwrap_or(0);
        if next >= 5 {
            let mut j = kept.len();
            loop {
                if j == 0 {
                    kept.insert(0, 1);
                    break;
                }
                j -= 1;
                if kept[j] == 9 {
                    kept[j] = 0;
                } else {
                    kept[j] += 1;
                    break;
                }
            }
        }
    } else if keep == 0 && digits.first().is_some_and(|d| *d >= 5) {
        kept.push(1);
    }
    // Layout: integer part is the first (len - precision) kept digits.
    let frac_len = precision;
    while kept.len() < frac_len + 1 {
        kept.insert(0, 0);
    }
    let int_len = kept.len() - frac_len;
    let mut out: String = kept[..int_len]
        .iter()
        .map(|d| char::from(b'0' + d))
        .collect();
    if frac_len > 0 {
        out.push('.');
        out.extend(kept[int_len..].iter().map(|d| char::from(b'0' + d)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_java() {
        let f = |fmt: &str, args: &[Val<'_>]| java_format(fmt, args).unwrap();
        assert_eq!(f("%05d", &[Val::Int(42)]), "00042");
        assert_eq!(f("%-5s|", &[Val::string("ab")]), "ab   |");
        assert_eq!(f("%.2f", &[Val::Double(1.005)]), "1.01");
        assert_eq!(f("%.2f", &[Val::Double(0.125)]), "0.13");
        assert_eq!(f("%.0f", &[Val::Double(0.5)]), "1");
        assert_eq!(f("%,d", &[Val::Long(1234567)]), "1,234,567");
        assert_eq!(f("%f", &[Val::Double(-2.5)]), "-2.500000");
        assert_eq!(f("%x %X", &[Val::Int(255), Val::Int(-1)]), "ff FFFFFFFF");
        assert_eq!(
            f("%2$s %1$s%%", &[Val::string("a"), Val::string("b")]),
            "b a%"
        );
        assert!(java_format("%d", &[Val::string("x")]).is_err());
        assert!(java_format("%s", &[]).is_err());
    }
}
