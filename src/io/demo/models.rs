//! The demo gateway's model catalog: per-model traffic share, speed and reliability.

/// How one simulated model behaves. Durations are in seconds.
#[derive(Debug)]
pub(crate) struct ModelProfile {
    pub id: &'static str,
    pub owned_by: &'static str,
    /// `created` in `/v1/models`; fixed so the listing is reproducible.
    pub created: u64,
    /// Relative share of the synthetic traffic.
    pub weight: f64,
    pub ttft_median: f64,
    pub ttft_sigma: f64,
    /// Per-token gap range (uniform).
    pub token_gap: (f64, f64),
    /// Median completion length of synthetic requests, in tokens.
    pub completion_median: f64,
    /// Median prompt length of synthetic requests, in tokens.
    pub prompt_median: f64,
    /// Baseline error probability outside error spells.
    pub error_rate: f64,
    /// Streams `reasoning_content` before the answer, as deepseek-reasoner does.
    pub reasons: bool,
}

/// Ids in the order `/v1/models` lists them.
pub const MODEL_IDS: [&str; 5] = [
    "deepseek-chat",
    "deepseek-reasoner",
    "gpt-4o",
    "gpt-4o-mini",
    "claude-sonnet-4-5",
];

pub(crate) static CATALOG: [ModelProfile; 5] = [
    ModelProfile {
        id: MODEL_IDS[0],
        owned_by: "deepseek",
        created: 1_735_689_600,
        weight: 45.0,
        ttft_median: 0.22,
        ttft_sigma: 0.35,
        token_gap: (0.012, 0.024),
        completion_median: 60.0,
        prompt_median: 180.0,
        error_rate: 0.015,
        reasons: false,
    },
    ModelProfile {
        id: MODEL_IDS[1],
        owned_by: "deepseek",
        created: 1_737_331_200,
        weight: 15.0,
        ttft_median: 0.38,
        ttft_sigma: 0.4,
        token_gap: (0.015, 0.030),
        completion_median: 380.0,
        prompt_median: 250.0,
        error_rate: 0.03,
        reasons: true,
    },
    ModelProfile {
        id: MODEL_IDS[2],
        owned_by: "openai",
        created: 1_715_367_049,
        weight: 15.0,
        ttft_median: 0.30,
        ttft_sigma: 0.3,
        token_gap: (0.010, 0.022),
        completion_median: 80.0,
        prompt_median: 220.0,
        error_rate: 0.01,
        reasons: false,
    },
    ModelProfile {
        id: MODEL_IDS[3],
        owned_by: "openai",
        created: 1_721_172_741,
        weight: 15.0,
        ttft_median: 0.12,
        ttft_sigma: 0.3,
        token_gap: (0.008, 0.015),
        completion_median: 50.0,
        prompt_median: 150.0,
        error_rate: 0.01,
        reasons: false,
    },
    ModelProfile {
        id: MODEL_IDS[4],
        owned_by: "anthropic",
        created: 1_759_190_400,
        weight: 10.0,
        ttft_median: 0.33,
        ttft_sigma: 0.35,
        token_gap: (0.012, 0.028),
        completion_median: 120.0,
        prompt_median: 300.0,
        error_rate: 0.02,
        reasons: false,
    },
];

pub(crate) fn find(id: &str) -> Option<&'static ModelProfile> {
    CATALOG.iter().find(|m| m.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_matches_ids_and_weights_sum_to_100() {
        let ids: Vec<_> = CATALOG.iter().map(|m| m.id).collect();
        assert_eq!(ids, MODEL_IDS);
        let total: f64 = CATALOG.iter().map(|m| m.weight).sum();
        assert!((total - 100.0).abs() < 1e-9);
        assert!(find("gpt-4o").is_some());
        assert!(find("gpt-5").is_none());
    }
}
