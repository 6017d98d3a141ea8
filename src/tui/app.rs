//! Dashboard state and its updates: key actions, scrape results and probe progress go in, a new
//! view model comes out. No terminal I/O here, so every state change is testable.
use std::collections::VecDeque;
use std::time::Duration;

use crate::pricing::{PriceTable, TokenCounts};
use crate::probe::{ProbeEvent, ProbeResult};
use crate::tui::keys::Action;
use crate::tui::theme::Theme;
use crate::tui::view::DashboardView;

/// Shortest window `+` zooms to.
pub const MIN_WINDOW: f64 = 60.0;
/// Probe answers kept for display; more is never shown and would only cost memory.
const MAX_PROBE_TEXT: usize = 16 * 1024;
/// Finished probes listed under the current one.
const PROBE_HISTORY: usize = 8;

/// A finished probe as the panel shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSummary {
    pub model: String,
    pub ok: bool,
    pub status: Option<u16>,
    pub ttft: Option<Duration>,
    pub latency: Duration,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub gateway_cost_usd: Option<f64>,
    pub retries: u32,
    pub error: Option<String>,
    pub answer: String,
}

impl ProbeSummary {
    pub fn from_result(result: &ProbeResult, prices: &PriceTable) -> Self {
        let cost_usd = result.usage.and_then(|u| {
            prices.lookup(&result.model).map(|p| {
                p.cost_usd(TokenCounts {
                    input: u.input as f64,
                    cached_input: u.cached_input as f64,
                    output: u.output as f64,
                })
                .total
            })
        });
        Self {
            model: result.model.clone(),
            ok: result.ok,
            status: result.status,
            ttft: result.ttft,
            latency: result.latency,
            input_tokens: result.usage.map(|u| u.input),
            output_tokens: result.usage.map(|u| u.output),
            cost_usd,
            gateway_cost_usd: result.gateway_cost_usd,
            retries: result.retries,
            error: result.error.clone(),
            answer: result.answer.clone(),
        }
    }

    /// Output tokens per second after the first token (decode speed).
    pub fn tokens_per_second(&self) -> Option<f64> {
        let out = self.output_tokens? as f64;
        let decode = self.latency.checked_sub(self.ttft?)?.as_secs_f64();
        (decode > 0.0 && out > 1.0).then(|| (out - 1.0) / decode)
    }
}

/// The probe panel's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ProbeState {
    #[default]
    Idle,
    Running {
        model: String,
        started_at: f64,
        answer: String,
        reasoning_chars: usize,
    },
    Done(Box<ProbeSummary>),
}

/// The model table's sort column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    Model,
    Requests,
    ErrorRatio,
    P50,
    P95,
    P99,
    TtftP95,
    TokensIn,
    TokensOut,
    Cost,
}

impl SortColumn {
    pub const ALL: [SortColumn; 10] = [
        SortColumn::Model,
        SortColumn::Requests,
        SortColumn::ErrorRatio,
        SortColumn::P50,
        SortColumn::P95,
        SortColumn::P99,
        SortColumn::TtftP95,
        SortColumn::TokensIn,
        SortColumn::TokensOut,
        SortColumn::Cost,
    ];

    fn next(self) -> Self {
        let i = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    /// The value a row sorts by; `None` (unknown) always sorts last.
    pub fn key(self, f: &crate::stats::Figures) -> Option<f64> {
        match self {
            SortColumn::Model => None,
            SortColumn::Requests => f.requests_per_second,
            SortColumn::ErrorRatio => f.error_ratio,
            SortColumn::P50 => f.latency_seconds.p50,
            SortColumn::P95 => f.latency_seconds.p95,
            SortColumn::P99 => f.latency_seconds.p99,
            SortColumn::TtftP95 => f.ttft_seconds.p95,
            SortColumn::TokensIn => f.tokens_per_second.input,
            SortColumn::TokensOut => f.tokens_per_second.output,
            SortColumn::Cost => f.cost_usd_per_hour,
        }
    }
}

/// Everything the dashboard shows besides the store.
#[derive(Debug, Clone)]
pub struct App {
    pub view: DashboardView,
    pub theme: Theme,
    pub show_help: bool,
    pub window: f64,
    pub initial_window: f64,
    pub max_window: f64,
    pub probe: ProbeState,
    pub probe_history: VecDeque<ProbeSummary>,
    pub api_base: String,
    /// A short message for the footer, shown until the given time.
    pub notice: Option<(String, f64)>,
    pub quit: bool,
    /// The model filter in force.
    pub filter: Option<String>,
    /// The filter being typed, while the filter prompt is open.
    pub filter_input: Option<String>,
    pub sort: SortColumn,
    /// Largest first (numbers) / Z first (names).
    pub sort_descending: bool,
}

/// What the event loop must do after an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Recompute the view (window changed).
    Recompute,
    /// Start a probe.
    StartProbe,
}

impl App {
    pub fn new(
        view: DashboardView,
        theme: Theme,
        window: f64,
        max_window: f64,
        api_base: String,
    ) -> Self {
        let max_window = max_window.max(MIN_WINDOW);
        let window = window.clamp(MIN_WINDOW.min(window), max_window);
        Self {
            view,
            theme,
            show_help: false,
            window,
            initial_window: window,
            max_window,
            probe: ProbeState::Idle,
            probe_history: VecDeque::new(),
            api_base,
            notice: None,
            quit: false,
            filter: None,
            filter_input: None,
            sort: SortColumn::Requests,
            sort_descending: true,
        }
    }

    pub fn probe_running(&self) -> bool {
        matches!(self.probe, ProbeState::Running { .. })
    }

    pub fn set_notice(&mut self, text: impl Into<String>, now: f64) {
        self.notice = Some((text.into(), now + 4.0));
    }

    pub fn apply(&mut self, action: Action, now: f64) -> Effect {
        match action {
            Action::Quit => {
                self.quit = true;
                Effect::None
            }
            Action::ToggleHelp => {
                self.show_help = !self.show_help;
                Effect::None
            }
            Action::CloseOverlay => {
                self.show_help = false;
                Effect::None
            }
            Action::Probe => {
                if self.probe_running() {
                    self.set_notice("a probe is already running", now);
                    Effect::None
                } else {
                    Effect::StartProbe
                }
            }
            Action::ZoomIn => self.zoom((self.window / 2.0).max(MIN_WINDOW), now),
            Action::ZoomOut => self.zoom((self.window * 2.0).min(self.max_window), now),
            Action::ZoomReset => self.zoom(self.initial_window, now),
            Action::Filter => {
                self.filter_input = Some(self.filter.clone().unwrap_or_default());
                Effect::None
            }
            Action::SortNext => {
                self.sort = self.sort.next();
                // Names read best A→Z, numbers largest first.
                self.sort_descending = self.sort != SortColumn::Model;
                Effect::None
            }
            Action::SortReverse => {
                self.sort_descending = !self.sort_descending;
                Effect::None
            }
        }
    }

    /// Handles a key while the filter prompt is open; every key belongs to the prompt then.
    pub fn filter_key(&mut self, key: &crossterm::event::KeyEvent) -> Effect {
        use crossterm::event::KeyCode;
        let Some(input) = self.filter_input.as_mut() else {
            return Effect::None;
        };
        match key.code {
            KeyCode::Enter => {
                let text = input.trim().to_string();
                self.filter = (!text.is_empty()).then_some(text);
                self.filter_input = None;
                Effect::Recompute
            }
            KeyCode::Esc => {
                self.filter_input = None;
                self.filter = None;
                Effect::Recompute
            }
            KeyCode::Backspace => {
                input.pop();
                Effect::None
            }
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .contains(crossterm::event::KeyModifiers::CONTROL) =>
            {
                // Model names are short; a cap keeps a stuck key from growing the prompt forever.
                if input.chars().count() < 64 {
                    input.push(c);
                }
                Effect::None
            }
            _ => Effect::None,
        }
    }

    fn zoom(&mut self, window: f64, now: f64) -> Effect {
        if (window - self.window).abs() < f64::EPSILON {
            let limit = if window >= self.max_window {
                "history kept"
            } else {
                "1 minute"
            };
            self.set_notice(format!("window is already at its limit ({limit})"), now);
            return Effect::None;
        }
        self.window = window;
        Effect::Recompute
    }

    pub fn probe_started(&mut self, model: String, now: f64) {
        self.probe = ProbeState::Running {
            model,
            started_at: now,
            answer: String::new(),
            reasoning_chars: 0,
        };
    }

    pub fn probe_progress(&mut self, event: ProbeEvent) {
        if let ProbeState::Running {
            answer,
            reasoning_chars,
            ..
        } = &mut self.probe
        {
            match event {
                ProbeEvent::Content(text) if answer.len() + text.len() <= MAX_PROBE_TEXT => {
                    answer.push_str(&text);
                }
                ProbeEvent::Content(_) => {}
                ProbeEvent::Reasoning(text) => *reasoning_chars += text.chars().count(),
            }
        }
    }

    pub fn probe_done(&mut self, result: &ProbeResult, prices: &PriceTable) {
        let summary = ProbeSummary::from_result(result, prices);
        if let ProbeState::Done(previous) = std::mem::take(&mut self.probe) {
            self.probe_history.push_front(*previous);
            self.probe_history.truncate(PROBE_HISTORY);
        }
        self.probe = ProbeState::Done(Box::new(summary));
    }
}
