//! Human formatting of numbers for the screen: seconds, rates, percentages, dollars, counts.
//! Unknown values are an en dash, never 0.

/// Shown wherever a value cannot be computed.
pub const UNKNOWN: &str = "–";

/// [`compact`] for a value that may be unknown.
pub fn compact_or_unknown(v: Option<f64>) -> String {
    v.map(compact).unwrap_or_else(|| UNKNOWN.to_string())
}

/// `412 ms`, `1.21 s`, `2m05s`.
pub fn seconds(v: Option<f64>) -> String {
    match v {
        None => UNKNOWN.to_string(),
        Some(v) if !v.is_finite() => UNKNOWN.to_string(),
        Some(v) if v < 0.001 => format!("{:.0} µs", v * 1e6),
        Some(v) if v < 1.0 => format!("{:.0} ms", v * 1e3),
        Some(v) if v < 10.0 => format!("{v:.2} s"),
        Some(v) if v < 120.0 => format!("{v:.1} s"),
        Some(v) => format!("{}m{:02}s", (v / 60.0) as u64, (v % 60.0) as u64),
    }
}

/// [`seconds`] of a quantile, `≥ 10.0 s` where it is only a lower bound (it fell in `+Inf`).
pub fn quantile_seconds(v: Option<f64>, at_least: bool) -> String {
    match v {
        Some(_) if at_least => format!("≥ {}", seconds(v)),
        _ => seconds(v),
    }
}

/// A count as a person writes it: `99`, `100`, `79k`.
pub fn count(v: Option<f64>) -> String {
    match v {
        Some(v) if v.fract() == 0.0 && v.abs() < 10_000.0 => format!("{v:.0}"),
        Some(v) if v.fract() == 0.0 && (v / 1000.0).fract() == 0.0 && v.abs() < 1e7 => {
            format!("{:.0}k", v / 1000.0)
        }
        v => compact_or_unknown(v),
    }
}

/// `19.6/s`, `0.05/s`, `1.2k/s`.
pub fn rate(v: Option<f64>) -> String {
    match v {
        None => UNKNOWN.to_string(),
        Some(v) => format!("{}/s", compact(v)),
    }
}

/// A number in at most about five characters: `0.05`, `19.6`, `842`, `1.2k`, `5.7M`.
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return UNKNOWN.to_string();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a < 0.1 {
        format!("{v:.3}")
    } else if a < 10.0 {
        format!("{v:.2}")
    } else if a < 1000.0 {
        format!("{v:.1}")
    } else if a < 1e6 {
        format!("{:.1}k", v / 1e3)
    } else if a < 1e9 {
        format!("{:.1}M", v / 1e6)
    } else {
        format!("{:.1}G", v / 1e9)
    }
}

/// `2.14 %`.
pub fn percent(ratio: Option<f64>) -> String {
    match ratio {
        None => UNKNOWN.to_string(),
        Some(r) if !r.is_finite() => UNKNOWN.to_string(),
        Some(r) if r * 100.0 < 10.0 => format!("{:.2} %", r * 100.0),
        Some(r) => format!("{:.1} %", r * 100.0),
    }
}

/// `$4.12`, `$0.0021`, `$3,007`.
pub fn usd(v: Option<f64>) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else {
        return UNKNOWN.to_string();
    };
    let a = v.abs();
    if a == 0.0 {
        "$0.00".to_string()
    } else if a < 0.01 {
        format!("${v:.6}")
    } else if a < 1000.0 {
        format!("${v:.2}")
    } else {
        let whole = v.round() as i64;
        let digits = whole.abs().to_string();
        let mut grouped = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        format!("{}${grouped}", if whole < 0 { "-" } else { "" })
    }
}

/// A span of time ahead as people say it: `45 min`, `7.5 h`, `3.2 d`.
pub fn span(seconds: f64) -> String {
    match seconds {
        s if !s.is_finite() => UNKNOWN.to_string(),
        s if s < 120.0 * 60.0 => format!("{:.0} min", (s / 60.0).max(0.0)),
        s if s < 48.0 * 3600.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} d", s / 86_400.0),
    }
}

/// A token count as people write it: `10M`, `1.5B`, `500k`, `2_000_000`, `750000`.
pub fn parse_tokens(text: &str) -> Result<f64, String> {
    let t = text.trim().replace('_', "");
    let (digits, scale) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('B') | Some('G') => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    match digits.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n * scale),
        _ => Err(format!(
            "cannot read {text:?} as a token count: give a number with an optional K, M or B (10M, 1.5B, 500K)"
        )),
    }
}

/// `$75.80`, `−$70.00`: dollars with the sign before them.
pub fn signed_usd(v: f64) -> String {
    let text = usd(Some(v.abs()));
    if v < 0.0 { format!("−{text}") } else { text }
}

/// A change in dollars: `+$86.67`, `−$6.95`, `$0.00`.
pub fn usd_change(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", usd(Some(v)))
    } else {
        signed_usd(v)
    }
}

/// A window length: `5m`, `1h`, `90s`.
pub fn window(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A histogram bound for an axis: `≤250ms`, `≤2.5s`, `+Inf`.
pub fn bound(le: f64) -> String {
    if le.is_infinite() {
        "+Inf".to_string()
    } else if le < 1.0 {
        format!("{}ms", trim(le * 1000.0))
    } else {
        format!("{}s", trim(le))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Parses `500ms`, `1s`, `5m`, `1h` (and combinations such as `1m30s`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration like 500ms, 1s, 5m or 1h ({e})"))?;
    if d.is_zero() {
        return Err(format!("{text:?}: a duration must be longer than zero"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_carry_their_sign_in_front() {
        assert_eq!(signed_usd(75.8), "$75.80");
        assert_eq!(signed_usd(-70.0), "−$70.00");
        assert_eq!(usd_change(86.671), "+$86.67");
        assert_eq!(usd_change(-6.95), "−$6.95");
        assert_eq!(usd_change(0.0), "$0.00");
    }

    #[test]
    fn spans_ahead_in_minutes_hours_or_days() {
        assert_eq!(span(45.0 * 60.0), "45 min");
        assert_eq!(span(7.5 * 3600.0), "7.5 h");
        assert_eq!(span(3.25 * 86_400.0), "3.2 d");
        assert_eq!(span(f64::INFINITY), UNKNOWN);
    }

    #[test]
    fn token_counts_take_k_m_b_suffixes() {
        assert_eq!(parse_tokens("10M"), Ok(10e6));
        assert_eq!(parse_tokens("1.5b"), Ok(1.5e9));
        assert_eq!(parse_tokens("500K"), Ok(500e3));
        assert_eq!(parse_tokens("2_000_000"), Ok(2e6));
        assert_eq!(parse_tokens(" 42 "), Ok(42.0));
        for bad in ["", "M", "ten", "-5M", "1e400"] {
            assert!(parse_tokens(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_read_as_people_write_them() {
        assert_eq!(count(Some(99.0)), "99");
        assert_eq!(count(Some(80_000.0)), "80k");
        assert_eq!(count(Some(0.5)), "0.50");
        assert_eq!(count(None), "–");
    }

    #[test]
    fn a_lower_bound_quantile_says_so() {
        assert_eq!(quantile_seconds(Some(10.0), true), "≥ 10.0 s");
        assert_eq!(quantile_seconds(Some(10.0), false), "10.0 s");
        assert_eq!(quantile_seconds(None, true), "–", "unknown stays unknown");
    }

    #[test]
    fn formats() {
        assert_eq!(seconds(Some(0.4123)), "412 ms");
        assert_eq!(seconds(Some(1.214)), "1.21 s");
        assert_eq!(seconds(Some(125.0)), "2m05s");
        assert_eq!(seconds(None), "–");
        assert_eq!(rate(Some(19.63)), "19.6/s");
        assert_eq!(rate(Some(0.05)), "0.050/s");
        assert_eq!(rate(Some(1234.0)), "1.2k/s");
        assert_eq!(percent(Some(0.02141)), "2.14 %");
        assert_eq!(percent(Some(0.5)), "50.0 %");
        assert_eq!(percent(None), "–");
        assert_eq!(usd(Some(4.123)), "$4.12");
        assert_eq!(usd(Some(0.0021)), "$0.002100");
        assert_eq!(usd(Some(3007.4)), "$3,007");
        assert_eq!(usd(Some(1234567.0)), "$1,234,567");
        assert_eq!(window(300.0), "5m");
        assert_eq!(window(3600.0), "1h");
        assert_eq!(window(90.0), "90s");
        assert_eq!(bound(0.25), "250ms");
        assert_eq!(bound(2.5), "2.5s");
        assert_eq!(bound(f64::INFINITY), "+Inf");
    }
}
