//! Synthetic request shapes for `bench --input-tokens` / `--output-tokens`: prompt and output
//! lengths drawn from normal distributions, so a run looks like a real mix rather than one
//! prompt sent a thousand times.
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

/// One request's content: its prompt and, when it has one of its own, its completion limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub text: String,
    pub max_tokens: Option<u32>,
}

impl From<&str> for Prompt {
    fn from(text: &str) -> Self {
        Self {
            text: text.to_string(),
            max_tokens: None,
        }
    }
}

impl From<String> for Prompt {
    fn from(text: String) -> Self {
        Self {
            text,
            max_tokens: None,
        }
    }
}

/// `MEAN[:STDDEV]` tokens: a normal distribution, each draw rounded and at least 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lengths {
    pub mean: f64,
    pub stddev: f64,
}

/// Parses `512`, `512:128`.
pub fn parse_lengths(text: &str) -> Result<Lengths, String> {
    let (mean, sd) = match text.split_once(':') {
        Some((m, s)) => (m.trim(), s.trim()),
        None => (text.trim(), "0"),
    };
    let mean: f64 = mean
        .parse()
        .map_err(|_| format!("{text:?}: expected MEAN[:STDDEV] tokens, e.g. 512:128"))?;
    let stddev: f64 = sd
        .parse()
        .map_err(|_| format!("{text:?}: the standard deviation is a number of tokens"))?;
    if !(1.0..=1_000_000.0).contains(&mean) {
        return Err(format!("{text:?}: the mean is 1 to 1000000 tokens"));
    }
    if !(stddev.is_finite() && stddev >= 0.0) {
        return Err(format!("{text:?}: the standard deviation is 0 or more"));
    }
    Ok(Lengths { mean, stddev })
}

impl Lengths {
    fn draw(&self, rng: &mut StdRng) -> u32 {
        let v = Normal::new(self.mean, self.stddev).map_or(self.mean, |n| n.sample(rng));
        v.round().clamp(1.0, 1_000_000.0) as u32
    }
}

/// Words that GPT-style tokenizers (cl100k, o200k, Llama 3's) encode as one token each with
/// their leading space, so a prompt of N of them is about N tokens.
const WORDS: &[&str] = &[
    "the", "data", "system", "model", "request", "time", "value", "number", "report", "change",
    "service", "user", "group", "state", "order", "point", "level", "power", "water", "light",
    "market", "price", "table", "field", "signal", "answer", "question", "story", "world", "house",
];

/// How many distinct prompts a run cycles through: enough for a varied mix, bounded in memory.
pub const MAX_DISTINCT: usize = 1000;

/// `count` prompts: each `input` long in words (or `base` when no input length is asked) and
/// with an `output` completion limit of its own (or none). The same seed gives the same set.
pub fn synthetic(
    base: &str,
    input: Option<Lengths>,
    output: Option<Lengths>,
    count: usize,
    seed: u64,
) -> Vec<Prompt> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count.clamp(1, MAX_DISTINCT))
        .map(|i| {
            let text = match input {
                None => base.to_string(),
                Some(lengths) => {
                    let n = lengths.draw(&mut rng) as usize;
                    // A distinct first word per prompt keeps prefix caches from serving them all.
                    let mut words = Vec::with_capacity(n);
                    for k in 0..n {
                        words.push(WORDS[(i * 7 + k * 13 + k / WORDS.len()) % WORDS.len()]);
                    }
                    words.join(" ")
                }
            };
            Prompt {
                text,
                max_tokens: output.map(|o| o.draw(&mut rng)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_parse_and_refuse_with_the_reason() {
        assert_eq!(
            parse_lengths("512:128"),
            Ok(Lengths {
                mean: 512.0,
                stddev: 128.0
            })
        );
        assert_eq!(parse_lengths("64").map(|l| l.stddev), Ok(0.0));
        assert!(parse_lengths("0").unwrap_err().contains("1 to"));
        assert!(parse_lengths("10:-1").unwrap_err().contains("0 or more"));
        assert!(parse_lengths("ten").is_err());
    }

    /// 1000 prompts of 200 ± 50 words with 64 ± 16 output tokens: the drawn lengths have that
    /// mean and spread (within 5 % and 10 %), nothing is below 1, the set is reproducible.
    #[test]
    fn synthetic_prompts_have_the_asked_length_distribution() {
        let input = Lengths {
            mean: 200.0,
            stddev: 50.0,
        };
        let output = Lengths {
            mean: 64.0,
            stddev: 16.0,
        };
        let set = synthetic("ignored", Some(input), Some(output), 5000, 3);
        assert_eq!(set.len(), MAX_DISTINCT);
        let words: Vec<f64> = set
            .iter()
            .map(|p| p.text.split(' ').count() as f64)
            .collect();
        let outs: Vec<f64> = set
            .iter()
            .map(|p| f64::from(p.max_tokens.unwrap()))
            .collect();
        let stats = |x: &[f64]| {
            let n = x.len() as f64;
            let m = x.iter().sum::<f64>() / n;
            (
                m,
                (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
            )
        };
        let (m, sd) = stats(&words);
        assert!(
            (m - 200.0).abs() < 10.0 && (sd - 50.0).abs() < 5.0,
            "{m} {sd}"
        );
        let (m, sd) = stats(&outs);
        assert!(
            (m - 64.0).abs() < 3.2 && (sd - 16.0).abs() < 1.6,
            "{m} {sd}"
        );
        assert_eq!(
            set,
            synthetic("ignored", Some(input), Some(output), 5000, 3)
        );
        assert_ne!(set[0].text, set[1].text);
        // Without an input length, the base prompt with its own limits.
        let plain = synthetic("hi", None, Some(output), 3, 1);
        assert!(
            plain
                .iter()
                .all(|p| p.text == "hi" && p.max_tokens.is_some())
        );
    }
}
