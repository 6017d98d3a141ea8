//! Checks `llmtop::base::promql` against every reference vector Prometheus 2.42 produced (tests/fixtures/promql-vectors.json).
//!
//! Every case is evaluated before failing, so one run lists all mismatches rather than the first.

use llmtop::base::promql;
use serde_json::Value;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/promql-vectors.json"
);
const REL_TOL: f64 = 1e-9;
/// `quantile_over_rate` bucket series are `0+kx16`: 17 samples, value `k * i` at step `i`.
const EXPANDING_STEPS: usize = 16;
const SECTIONS: [&str; 4] = [
    "rate",
    "histogram_quantile",
    "quantile_over_rate",
    "heatmap",
];

fn fixture() -> Value {
    let text =
        std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| panic!("cannot read {FIXTURE}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{FIXTURE} is not JSON: {e}"))
}

fn cases<'a>(fixture: &'a Value, section: &str) -> &'a [Value] {
    let cases = fixture[section]
        .as_array()
        .unwrap_or_else(|| panic!("fixture has no `{section}` array"));
    assert!(!cases.is_empty(), "fixture section `{section}` is empty");
    cases
}

/// A fixture number: JSON number or one of Prometheus' spellings `+Inf`, `-Inf`, `NaN`.
fn num(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not an f64")),
        Value::String(s) => match s.as_str() {
            "+Inf" | "Inf" => Ok(f64::INFINITY),
            "-Inf" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            other => other
                .parse()
                .map_err(|_| format!("{other:?} is not a number")),
        },
        other => Err(format!("{other} is not a number")),
    }
}

fn field(case: &Value, key: &str) -> Result<f64, String> {
    num(case.get(key).ok_or_else(|| format!("missing `{key}`"))?)
}

fn pairs(v: &Value) -> Result<Vec<(f64, f64)>, String> {
    v.as_array()
        .ok_or("expected an array of pairs")?
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([a, b]) => Ok((num(a)?, num(b)?)),
            _ => Err(format!("{pair} is not a pair")),
        })
        .collect()
}

/// Samples every `step` seconds from t=0; JSON null is a missing sample.
fn series(values: &Value, step: f64) -> Result<Vec<(f64, f64)>, String> {
    let values = values.as_array().ok_or("`values` is not an array")?;
    let mut samples = Vec::new();
    for (i, v) in values.iter().enumerate() {
        if !v.is_null() {
            samples.push((i as f64 * step, num(v)?));
        }
    }
    Ok(samples)
}

fn matches(got: f64, want: f64) -> bool {
    if want.is_nan() {
        return got.is_nan();
    }
    if want.is_infinite() {
        return got == want;
    }
    (got - want).abs() <= REL_TOL * got.abs().max(want.abs())
}

fn label(section: &str, i: usize, case: &Value) -> String {
    match case.get("note").and_then(Value::as_str) {
        Some(note) => format!("{section}[{i}] ({note})"),
        None => format!("{section}[{i}]"),
    }
}

/// Runs `check` on every case of `section`, printing each result, and fails listing all mismatches.
fn run(section: &str, check: impl Fn(&Value) -> Result<(), String>) {
    let fixture = fixture();
    let cases = cases(&fixture, section);
    let failures: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, case)| {
            let name = label(section, i, case);
            match check(case) {
                Ok(()) => {
                    println!("ok   {name}");
                    None
                }
                Err(why) => {
                    println!("FAIL {name}: {why}");
                    Some(format!("{name}: {why}"))
                }
            }
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} `{section}` vectors failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn expect_scalar(got: f64, case: &Value) -> Result<(), String> {
    let want = field(case, "expect")?;
    if matches(got, want) {
        Ok(())
    } else {
        Err(format!("got {got:?}, want {want:?}"))
    }
}

#[test]
fn fixture_has_only_known_sections() {
    let fixture = fixture();
    let keys = fixture.as_object().expect("fixture is a JSON object");
    let unknown: Vec<&String> = keys
        .keys()
        .filter(|k| k.as_str() != "about" && !SECTIONS.contains(&k.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "sections this test does not check: {unknown:?}"
    );
}

#[test]
fn rate_vectors() {
    run("rate", |case| {
        let step = field(case, "step_s")?;
        let eval = field(case, "eval_s")?;
        let range = field(case, "range_s")?;
        let samples = series(&case["values"], step)?;
        let got = match case["fn"].as_str() {
            Some("rate") => promql::rate(&samples, eval, range),
            Some("increase") => promql::increase(&samples, eval, range),
            Some("delta") => promql::delta(&samples, eval, range),
            other => return Err(format!("unknown fn {other:?}")),
        };
        // We follow 2.42, so `expect` is the reference even where `expect_newer` exists.
        expect_scalar(
            got.ok_or("got None (fewer than two samples in range)")?,
            case,
        )
    });
}

#[test]
fn histogram_quantile_vectors() {
    run("histogram_quantile", |case| {
        let buckets = pairs(&case["buckets"])?;
        expect_scalar(
            promql::histogram_quantile(field(case, "q")?, &buckets),
            case,
        )
    });
}

#[test]
fn quantile_over_rate_vectors() {
    run("quantile_over_rate", |case| {
        let step = field(case, "step_s")?;
        let slopes = pairs(&case["buckets"])?;
        let snapshots: Vec<(f64, Vec<(f64, f64)>)> = (0..=EXPANDING_STEPS)
            .map(|i| {
                let i = i as f64;
                (
                    i * step,
                    slopes.iter().map(|&(le, k)| (le, k * i)).collect(),
                )
            })
            .collect();
        let rates =
            promql::bucket_rates(&snapshots, field(case, "eval_s")?, field(case, "range_s")?);
        if rates.len() != slopes.len() {
            return Err(format!(
                "only {} of {} buckets had a rate",
                rates.len(),
                slopes.len()
            ));
        }
        expect_scalar(promql::histogram_quantile(field(case, "q")?, &rates), case)
    });
}

#[test]
fn heatmap_vectors() {
    run("heatmap", |case| {
        let increases = pairs(&case["bucket_increases"])?;
        let want = case["expect_cells"]
            .as_array()
            .ok_or("`expect_cells` is not an array")?
            .iter()
            .map(num)
            .collect::<Result<Vec<f64>, String>>()?;
        let got = promql::heatmap_cells(&increases);
        let same = got.len() == want.len() && got.iter().zip(&want).all(|(&g, &w)| matches(g, w));
        if same {
            Ok(())
        } else {
            Err(format!("got {got:?}, want {want:?}"))
        }
    });
}
