//! Dashboard state and its updates: key actions, scrape results and probe progress go in, a new
//! view model comes out. No terminal I/O here, so every state change is testable.
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::base::pricing::PriceTable;
use crate::io::probe::{ProbeEvent, ProbeResult};
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

use ratatui::layout::{Position, Rect};

use crate::base::keymap::{Action, Keymap};
use crate::front::tui::theme::{ColorDepth, Theme};
use crate::model::compare::{Comparison, Volume};
use crate::model::table::SortColumn;
use crate::model::view::DashboardView;

/// Shortest window `+` zooms to.
pub const MIN_WINDOW: f64 = 60.0;
/// Probe answers kept for display; more is never shown and would only cost memory.
const MAX_PROBE_TEXT: usize = 16 * 1024;
/// Finished probes listed under the current one.
const PROBE_HISTORY: usize = 200;

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
        let cost_usd = result.cost(prices).map(|c| c.total);
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

/// A dialog that takes every key while it is open.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Modal {
    #[default]
    None,
    /// The prompt editor with the text being written.
    Editor(String),
    /// The model picker: the gateway's models (None while loading), what is typed, the selection.
    Picker {
        models: Option<Vec<String>>,
        error: Option<String>,
        typed: String,
        selected: usize,
    },
    /// "Send a burst of N?" — y sends, anything else cancels.
    ConfirmBurst,
    /// The probe history, scrolled by this many rows.
    History { scroll: usize },
    /// Every alert rule: firing, pending, ok or not measured, scrolled by this many rows.
    Alerts { scroll: usize },
}

/// A burst of probes: progress while it runs, a summary when done.
/// Latencies (and TTFTs) a burst line keeps for its percentiles; older ones go in halves.
pub const BURST_SAMPLES_KEPT: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub struct BurstState {
    /// `burst`, or `bench` for `llmtop bench --tui`.
    pub title: &'static str,
    pub model: String,
    /// Requests planned; 0 = not known ahead (a bench bounded by --duration).
    pub total: usize,
    pub concurrency: usize,
    pub started_at: f64,
    pub finished_at: Option<f64>,
    pub ok: usize,
    pub failed: usize,
    pub retries: u32,
    /// End-to-end latencies of successful requests, seconds.
    pub latencies: Vec<f64>,
    pub ttfts: Vec<f64>,
    pub cost_usd: f64,
    /// Failure reasons and how often each occurred.
    pub errors: std::collections::BTreeMap<String, usize>,
}

impl BurstState {
    pub fn done(&self) -> usize {
        self.ok + self.failed
    }

    /// Exact percentile of recorded values (nearest rank), `None` without values.
    pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
        Self::percentiles(values, [q])[0]
    }

    /// Several percentiles (`qs` ascending) from one copy of the values: drawn every frame over
    /// up to BURST_SAMPLES_KEPT of them, so each rank is selected, never sorted, and each
    /// selection starts where the previous one left the slice partitioned.
    pub fn percentiles<const N: usize>(values: &[f64], qs: [f64; N]) -> [Option<f64>; N] {
        let mut out = [None; N];
        if values.is_empty() {
            return out;
        }
        let mut values = values.to_vec();
        let n = values.len();
        let mut from = 0;
        for (slot, q) in out.iter_mut().zip(qs) {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            // Everything at or after `from` is ≥ the last rank selected.
            let start = if rank >= from { from } else { 0 };
            let (_, at, _) = values[start..].select_nth_unstable_by(rank - start, f64::total_cmp);
            *slot = Some(*at);
            from = rank;
        }
        out
    }
}

/// A scrolled list overlay's keys (the probe history, the alerts): ↑/↓ j/k a row, g/G the
/// ends; true when Esc, q or the overlay's own key closes it.
fn scroll_list(
    scroll: &mut usize,
    len: usize,
    code: crossterm::event::KeyCode,
    own_key: char,
) -> bool {
    let max = len.saturating_sub(1);
    use crossterm::event::KeyCode;
    match code {
        KeyCode::Esc | KeyCode::Char('q') => return true,
        KeyCode::Char(c) if c == own_key => return true,
        KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => *scroll = (*scroll + 1).min(max),
        KeyCode::Home | KeyCode::Char('g') => *scroll = 0,
        KeyCode::End | KeyCode::Char('G') => *scroll = max,
        _ => {}
    }
    false
}

/// The dashboard's panels, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Requests,
    Latency,
    Tokens,
    Errors,
    Cost,
    Models,
    /// The upstream deployments of a routing gateway; only on screen where it reports them.
    Gateway,
    Probe,
}

impl Panel {
    pub const ALL: [Panel; 8] = [
        Panel::Requests,
        Panel::Latency,
        Panel::Tokens,
        Panel::Errors,
        Panel::Cost,
        Panel::Models,
        Panel::Gateway,
        Panel::Probe,
    ];

    /// Which page of the compact layout the panel is on.
    pub fn page(self) -> Page {
        match self {
            Panel::Requests | Panel::Latency | Panel::Tokens | Panel::Errors | Panel::Cost => {
                Page::Traffic
            }
            Panel::Models | Panel::Gateway | Panel::Probe => Page::Detail,
        }
    }

    /// The next (or previous) panel on screen; the Gateway panel only counts where it is drawn.
    fn step(self, forward: bool, with_gateway: bool) -> Self {
        let shown: Vec<Panel> = Self::ALL
            .into_iter()
            .filter(|p| with_gateway || *p != Panel::Gateway)
            .collect();
        let i = shown.iter().position(|p| *p == self).unwrap_or(0);
        let n = shown.len();
        shown[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// Below this many rows not every panel fits legibly (a chart needs five plot rows, the table its
/// models, the probe its answer), so the dashboard shows one of two pages: see [`Page`].
pub const COMPACT_HEIGHT: u16 = 34;

/// The pages of the compact layout: a terminal too short for every panel at once (the 80×24 of a
/// default SSH session) shows the charts on one page and the tables and the probe on the other.
/// The page shown is the focused panel's, so Tab walks through both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Request rate, latency, tokens, errors and cost.
    Traffic,
    /// The model table, the Gateway panel and the probe.
    Detail,
}

impl Page {
    /// The page's number as the footer shows it, of [`Page::COUNT`].
    pub fn number(self) -> usize {
        match self {
            Page::Traffic => 1,
            Page::Detail => 2,
        }
    }

    pub const COUNT: usize = 2;

    /// What the page holds, for the footer.
    pub fn label(self) -> &'static str {
        match self {
            Page::Traffic => "charts",
            Page::Detail => "models · gateway · probe",
        }
    }

    /// The panel a page opens on.
    fn first_panel(self) -> Panel {
        match self {
            Page::Traffic => Panel::Requests,
            Page::Detail => Panel::Models,
        }
    }
}

/// The inputs of the last cost comparison and its result. The view changes once per scrape while
/// frames come much more often; the comparison prices every row of the table, so it is kept.
#[derive(Debug, Clone, Default)]
struct CostCache(std::cell::RefCell<Option<(CostKey, Option<Arc<Comparison>>)>>);

/// What a comparison is computed from: the traffic priced, the baseline, the day (staleness).
type CostKey = (Volume, Option<String>, Option<chrono::NaiveDate>);

/// Where the last frame drew what, in terminal cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScreenLayout {
    /// Each panel on screen with its rectangle (borders included).
    pub panels: Vec<(Panel, Rect)>,
    /// The model table's data rows, and the index (in sorted order) of the model on the first.
    pub model_rows: Option<(Rect, usize)>,
    /// The page on screen when the terminal is too short for every panel at once.
    pub page: Option<Page>,
}

impl ScreenLayout {
    /// The panel under a cell, if any.
    pub fn panel_at(&self, column: u16, row: u16) -> Option<Panel> {
        let at = Position::new(column, row);
        self.panels
            .iter()
            .find(|(_, r)| r.contains(at))
            .map(|(p, _)| *p)
    }
}

/// Everything the dashboard shows besides the store.
#[derive(Debug, Clone)]
pub struct App {
    pub view: DashboardView,
    pub theme: Theme,
    pub show_help: bool,
    /// First help row shown, for terminals too short for the whole list.
    pub help_scroll: usize,
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
    /// The Gateway panel's order (the sort keys act on it while it has the focus).
    pub gateway_sort: crate::model::upstream::UpstreamSort,
    /// The Gateway panel's order flipped.
    pub gateway_sort_reversed: bool,
    /// The price table in force, for the cost comparison.
    pub prices: crate::base::pricing::PriceTable,
    /// The config file's `[budget]`, shown in the Cost panel beside the gateway's budgets.
    pub budget_config: crate::model::budget::BudgetConfig,
    /// The cost comparison's baseline; `None` is the traffic's current mix.
    pub cost_baseline: Option<String>,
    /// The cost comparison prices only the selected model's traffic.
    pub cost_selected_only: bool,
    /// The last comparison and what it was computed from: frames between scrapes reuse it.
    cost_cache: CostCache,
    pub modal: Modal,
    pub settings: ProbeSettings,
    pub burst: Option<BurstState>,
    /// Dollars this session's probes have cost.
    pub probe_spent_usd: f64,
    /// The panel Tab has moved to, and whether it fills the screen.
    pub focus: Panel,
    pub expanded: bool,
    /// The highlighted row of the model table (in its sorted order).
    pub selected_model: usize,
    /// The display is frozen: the view is not recomputed, collection goes on.
    pub frozen: bool,
    /// When the display was frozen: ages on screen stop there too.
    pub frozen_at: f64,
    /// Why the dashboard shows probe results instead of the scrape (no usable /metrics), if it does.
    pub showing_probes: Option<String>,
    /// The key bindings in force (defaults plus the config file's `[keys]`).
    pub keymap: Keymap,
    /// The terminal's colour depth, applied again to every theme `t` switches to.
    pub color_depth: ColorDepth,
    /// Where the last frame put each panel, so a click or the wheel knows what it is over.
    pub layout: ScreenLayout,
    /// `--insecure`: certificates are not checked, and the status line says so the whole time.
    pub insecure_tls: bool,
    /// `llmtop replay`: the time cursor; `None` on a live dashboard.
    pub replay: Option<crate::front::tui::replay_clock::ReplayClock>,
    /// The alert rules in force and where each stands.
    pub alerts: crate::model::alert_board::AlertBoard,
    /// `--bell`: ring the terminal bell when a rule starts firing.
    pub bell: bool,
    /// A rule started firing since the last frame: the event loop rings once, then clears it.
    pub bell_due: bool,
}

/// What the event loop must do after an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Recompute the view (window changed).
    Recompute,
    /// Start a probe.
    StartProbe,
    /// Start a burst of the configured size.
    StartBurst,
    /// Fetch the gateway's model list for the picker.
    FetchModels,
    /// Fleet mode: show one instance (`Some`) or the whole fleet again (`None`).
    Drill(Option<String>),
}

/// Probe settings the keys act on.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSettings {
    pub model: Option<String>,
    pub prompt: String,
    pub read_only: bool,
    pub max_spend_usd: Option<f64>,
    pub burst_size: usize,
    pub burst_concurrency: usize,
    pub burst_confirm_above: usize,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            model: None,
            prompt: crate::io::probe::DEFAULT_PROMPT.into(),
            read_only: false,
            max_spend_usd: None,
            burst_size: crate::io::probe::DEFAULT_BURST_SIZE,
            burst_concurrency: crate::io::probe::DEFAULT_BURST_CONCURRENCY,
            burst_confirm_above: crate::io::probe::DEFAULT_BURST_CONFIRM_ABOVE,
        }
    }
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
            help_scroll: 0,
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
            gateway_sort: crate::model::upstream::UpstreamSort::default(),
            gateway_sort_reversed: false,
            prices: crate::base::pricing::PriceTable::builtin(),
            budget_config: Default::default(),
            cost_baseline: None,
            cost_selected_only: false,
            cost_cache: CostCache::default(),
            modal: Modal::None,
            settings: ProbeSettings::default(),
            burst: None,
            probe_spent_usd: 0.0,
            showing_probes: None,
            keymap: Keymap::default(),
            color_depth: ColorDepth::TrueColor,
            layout: ScreenLayout::default(),
            insecure_tls: false,
            replay: None,
            alerts: Default::default(),
            bell: false,
            bell_due: false,
            frozen: false,
            focus: Panel::Requests,
            expanded: false,
            selected_model: 0,
            frozen_at: 0.0,
        }
    }

    pub fn probe_running(&self) -> bool {
        matches!(self.probe, ProbeState::Running { .. })
    }

    pub fn set_notice(&mut self, text: impl Into<String>, now: f64) {
        self.notice = Some((text.into(), now + 4.0));
    }

    pub fn apply(&mut self, action: Action, now: f64) -> Effect {
        let effect = self.apply_action(action, now);
        // On a paged screen a probe or burst would stream out of sight: show its page.
        if self.layout.page.is_some() && matches!(effect, Effect::StartProbe | Effect::StartBurst) {
            self.focus = Panel::Probe;
        }
        effect
    }

    /// The model under the table's selection, by name.
    pub fn selected_model_name(&self) -> Option<String> {
        crate::model::table::table_order(&self.view.models, self.sort, self.sort_descending)
            .get(self.selected_model)
            .map(|m| m.model.clone())
    }

    /// The window's traffic (or the selected model's) priced on every model of the table,
    /// against the baseline picked with its key; `None` before any tokens are counted.
    pub fn cost_comparison(&self, now: f64) -> Option<Arc<Comparison>> {
        let traffic = &self.view.traffic;
        let volume = match (self.cost_selected_only, self.selected_model_name()) {
            (true, Some(model)) => traffic.only(&model),
            _ => traffic.clone(),
        };
        if volume.sources.is_empty() {
            return None;
        }
        let today = chrono::DateTime::from_timestamp(now as i64, 0).map(|d| d.date_naive());
        let key = (volume, self.cost_baseline.clone(), today);
        if let Some((cached, comparison)) = &*self.cost_cache.0.borrow()
            && *cached == key
        {
            return comparison.clone();
        }
        let comparison = self.compare_now(&key.0, today).map(Arc::new);
        *self.cost_cache.0.borrow_mut() = Some((key, comparison.clone()));
        comparison
    }

    fn compare_now(&self, volume: &Volume, today: Option<chrono::NaiveDate>) -> Option<Comparison> {
        use crate::model::compare::{CompareOptions, compare};
        let options = CompareOptions {
            baseline: self.cost_baseline.clone(),
            today,
            ..CompareOptions::default()
        };
        // A baseline that left the table (a filter, another model's traffic) falls back to the
        // current mix rather than hiding the comparison.
        compare(volume, &self.prices, &options).ok().or_else(|| {
            compare(
                volume,
                &self.prices,
                &CompareOptions {
                    baseline: None,
                    ..options
                },
            )
            .ok()
        })
    }

    /// Every budget in sight, soonest to run out first: the gateway's (from the view) and the
    /// config file's at the current pace.
    pub fn budgets(&self, now: f64) -> Vec<crate::model::budget::Budget> {
        let mut all = self.view.budgets.clone();
        let pace_of = |model: &str| {
            self.view
                .models
                .iter()
                .find(|m| m.model == model)
                .and_then(|m| m.figures.cost_usd_per_hour)
        };
        let at = self.view.eval_t.unwrap_or(now);
        all.extend(crate::model::budget::config_budgets(
            &self.budget_config,
            self.view.now.cost_usd_per_hour,
            pace_of,
            at,
        ));
        crate::model::budget::sort_soonest_first(&mut all);
        all
    }

    /// A cost notice, with where to see the comparison when it is not on screen.
    fn cost_notice(&self, what: &str) -> String {
        if self.expanded && self.focus == Panel::Cost {
            what.to_string()
        } else {
            let key = self.keymap.first_label(Action::Expand);
            format!("{what} ({key} on the Cost panel shows the comparison)")
        }
    }

    fn apply_action(&mut self, action: Action, now: f64) -> Effect {
        match action {
            Action::Quit => {
                self.quit = true;
                Effect::None
            }
            Action::ToggleHelp => {
                self.show_help = !self.show_help;
                self.help_scroll = 0;
                Effect::None
            }
            Action::CloseOverlay
                if !self.show_help
                    && self.modal == Modal::None
                    && !self.expanded
                    && self
                        .view
                        .fleet
                        .as_ref()
                        .is_some_and(|f| f.drilled.is_some()) =>
            {
                self.selected_model = 0;
                Effect::Drill(None)
            }
            Action::CloseOverlay => {
                self.show_help = false;
                self.modal = Modal::None;
                self.expanded = false;
                Effect::None
            }
            Action::NextPage => {
                match self.layout.page {
                    Some(page) => {
                        let other = match page {
                            Page::Traffic => Page::Detail,
                            Page::Detail => Page::Traffic,
                        };
                        self.focus = other.first_panel();
                    }
                    None => self.set_notice(
                        format!(
                            "every panel is on screen; the dashboard has pages below {} rows",
                            COMPACT_HEIGHT
                        ),
                        now,
                    ),
                }
                Effect::None
            }
            Action::CostBaseline => {
                // Through the rows cheapest first, then back to the current mix.
                let rows: Vec<String> = self
                    .cost_comparison(now)
                    .map(|c| {
                        c.rows
                            .iter()
                            .filter(|r| !r.current && r.usd.is_some())
                            .map(|r| r.model.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let next = match &self.cost_baseline {
                    None => rows.first().cloned(),
                    Some(b) => rows
                        .iter()
                        .position(|r| r == b)
                        .and_then(|i| rows.get(i + 1).cloned()),
                };
                self.cost_baseline = next;
                let shown = self
                    .cost_baseline
                    .as_deref()
                    .unwrap_or(crate::model::compare::CURRENT_MIX);
                self.set_notice(self.cost_notice(&format!("cost baseline: {shown}")), now);
                Effect::None
            }
            Action::CostScope => {
                self.cost_selected_only = !self.cost_selected_only;
                let what = match (self.cost_selected_only, self.selected_model_name()) {
                    (true, Some(m)) => format!("cost comparison: {m}'s traffic only"),
                    (true, None) => {
                        "cost comparison: the selected model's traffic (select one with j/k)".into()
                    }
                    (false, _) => "cost comparison: all traffic".into(),
                };
                self.set_notice(self.cost_notice(&what), now);
                Effect::None
            }
            Action::FocusNext | Action::FocusPrev => {
                let with_gateway = !self.view.upstreams.is_empty();
                self.focus = self.focus.step(action == Action::FocusNext, with_gateway);
                Effect::None
            }
            Action::Expand if self.focus == Panel::Models && self.view.fleet.is_some() => {
                // In fleet mode Enter on the instance table drills into the selected instance.
                match crate::model::view::selected_instance(
                    &self.view,
                    self.sort,
                    self.sort_descending,
                    self.selected_model,
                ) {
                    Some(instance) => {
                        self.set_notice(format!("{instance}: Esc goes back to the fleet"), now);
                        self.selected_model = 0;
                        Effect::Drill(Some(instance))
                    }
                    None => {
                        self.expanded = !self.expanded;
                        Effect::None
                    }
                }
            }
            Action::Expand => {
                self.expanded = !self.expanded;
                Effect::None
            }
            Action::Down | Action::Up | Action::Top | Action::Bottom if self.show_help => {
                let last = crate::base::keymap::BINDINGS.len().saturating_sub(1);
                self.help_scroll = match action {
                    Action::Down => (self.help_scroll + 1).min(last),
                    Action::Up => self.help_scroll.saturating_sub(1),
                    Action::Top => 0,
                    _ => last,
                };
                Effect::None
            }
            Action::Top | Action::Bottom if self.replay.is_some() => self.replay_seek(action, now),
            Action::Down | Action::Up | Action::Top | Action::Bottom => {
                // Motion moves the model table's selection, the table being the only list on screen.
                let last = self.view.models.len().saturating_sub(1);
                self.selected_model = match action {
                    Action::Down => (self.selected_model + 1).min(last),
                    Action::Up => self.selected_model.saturating_sub(1),
                    Action::Top => 0,
                    _ => last,
                };
                self.focus = Panel::Models;
                Effect::None
            }
            Action::Probe => {
                if let Some(reason) = self.refuse_requests() {
                    self.set_notice(reason, now);
                    Effect::None
                } else if self.probe_running() {
                    self.set_notice("a probe is already running", now);
                    Effect::None
                } else {
                    Effect::StartProbe
                }
            }
            Action::EditPrompt => {
                if let Some(reason) = self.refuse_requests() {
                    self.set_notice(reason, now);
                } else {
                    self.modal = Modal::Editor(self.settings.prompt.clone());
                }
                Effect::None
            }
            Action::PickModel => {
                if let Some(reason) = self.refuse_requests() {
                    self.set_notice(reason, now);
                    return Effect::None;
                }
                self.modal = Modal::Picker {
                    models: None,
                    error: None,
                    typed: String::new(),
                    selected: 0,
                };
                Effect::FetchModels
            }
            Action::Burst => {
                if let Some(reason) = self.refuse_requests() {
                    self.set_notice(reason, now);
                    Effect::None
                } else if self.burst.as_ref().is_some_and(|b| b.finished_at.is_none()) {
                    self.set_notice("a burst is already running", now);
                    Effect::None
                } else if self.settings.burst_size > self.settings.burst_confirm_above {
                    self.modal = Modal::ConfirmBurst;
                    Effect::None
                } else {
                    Effect::StartBurst
                }
            }
            Action::History => {
                self.modal = Modal::History { scroll: 0 };
                Effect::None
            }
            Action::Alerts => {
                self.modal = Modal::Alerts { scroll: 0 };
                Effect::None
            }
            Action::Freeze => {
                self.frozen = !self.frozen;
                self.frozen_at = now;
                // Catch up at once on unfreeze.
                if self.frozen {
                    Effect::None
                } else {
                    Effect::Recompute
                }
            }
            Action::CycleTheme => {
                self.theme = Theme::next_builtin(&self.theme.name)
                    .for_terminal(self.color_depth, self.theme.ascii);
                self.set_notice(format!("theme: {}", self.theme.name), now);
                Effect::None
            }
            Action::ZoomIn => self.zoom((self.window / 2.0).max(MIN_WINDOW), now),
            Action::ZoomOut => self.zoom((self.window * 2.0).min(self.max_window), now),
            Action::ZoomReset => self.zoom(self.initial_window, now),
            Action::Filter => {
                self.filter_input = Some(self.filter.clone().unwrap_or_default());
                Effect::None
            }
            Action::SortNext if self.focus == Panel::Gateway => {
                self.gateway_sort = self.gateway_sort.next();
                self.gateway_sort_reversed = false;
                Effect::None
            }
            Action::SortReverse if self.focus == Panel::Gateway => {
                self.gateway_sort_reversed = !self.gateway_sort_reversed;
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
            Action::ReplayPause
            | Action::ReplaySlower
            | Action::ReplayFaster
            | Action::SeekBack
            | Action::SeekForward
            | Action::SeekBackWindow
            | Action::SeekForwardWindow => self.replay_seek(action, now),
        }
    }

    /// The replay keys: move the time cursor or change how it moves. A live dashboard has no
    /// past to move in, and says where these keys work.
    fn replay_seek(&mut self, action: Action, now: f64) -> Effect {
        let window = self.window;
        let Some(clock) = self.replay.as_mut() else {
            self.set_notice(
                "time keys work in `llmtop replay FILE` (record with --record FILE)",
                now,
            );
            return Effect::None;
        };
        let step = crate::front::tui::replay_clock::SEEK_STEP;
        match action {
            Action::ReplayPause => clock.toggle(),
            Action::ReplaySlower => clock.slower(),
            Action::ReplayFaster => clock.faster(),
            Action::SeekBack => clock.seek(clock.cursor - step),
            Action::SeekForward => clock.seek(clock.cursor + step),
            Action::SeekBackWindow => clock.seek(clock.cursor - window),
            Action::SeekForwardWindow => clock.seek(clock.cursor + window),
            Action::Top => clock.seek(clock.start),
            Action::Bottom => clock.seek(clock.end),
            _ => {}
        }
        Effect::Recompute
    }

    /// Handles the mouse, against the layout of the last frame: a left click focuses the panel
    /// under it (and picks the model row clicked), the wheel scrolls the model table when over
    /// it and otherwise zooms the time window like `+`/`-`.
    pub fn mouse(&mut self, event: &MouseEvent, now: f64) -> Effect {
        // Dialogs and the filter prompt own the input while open.
        if self.filter_input.is_some() || self.modal != Modal::None {
            return Effect::None;
        }
        let over = self.layout.panel_at(event.column, event.row);
        match event.kind {
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                let up = event.kind == MouseEventKind::ScrollUp;
                if self.show_help || over == Some(Panel::Models) {
                    self.apply(if up { Action::Up } else { Action::Down }, now)
                } else {
                    // Wheel up brings the data closer: a shorter window, like `+`.
                    self.apply(if up { Action::ZoomIn } else { Action::ZoomOut }, now)
                }
            }
            MouseEventKind::Down(MouseButton::Left) if !self.show_help => {
                let Some(panel) = over else {
                    return Effect::None;
                };
                self.focus = panel;
                if let Some((rows, first)) = self.layout.model_rows
                    && panel == Panel::Models
                    && rows.contains(Position::new(event.column, event.row))
                {
                    let last = self.view.models.len().saturating_sub(1);
                    self.selected_model = (first + usize::from(event.row - rows.y)).min(last);
                }
                Effect::None
            }
            _ => Effect::None,
        }
    }

    /// Why requests may not be sent now, if they may not.
    pub fn refuse_requests(&self) -> Option<String> {
        if self.replay.is_some() {
            return Some("replay is read-only: nothing is sent to any gateway".into());
        }
        if self.settings.read_only {
            return Some("read-only: keys that send requests are off (--read-only)".into());
        }
        if let Some(max) = self.settings.max_spend_usd
            && self.probe_spent_usd >= max
        {
            return Some(format!(
                "probe budget spent: ${:.4} of --max-probe-spend ${max}",
                self.probe_spent_usd
            ));
        }
        None
    }

    /// Models the picker offers for what is typed.
    pub fn picker_matches(&self) -> Vec<String> {
        match &self.modal {
            Modal::Picker {
                models: Some(models),
                typed,
                ..
            } => {
                let needle = typed.to_lowercase();
                models
                    .iter()
                    .filter(|m| m.to_lowercase().contains(&needle))
                    .cloned()
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Handles a key while a dialog is open; every key belongs to the dialog then.
    pub fn modal_key(&mut self, key: &crossterm::event::KeyEvent, now: f64) -> Effect {
        use crossterm::event::{KeyCode, KeyModifiers};
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let matches = self.picker_matches();
        let history_len = self.history().len();
        let alerts_len = self.alerts.entries.len();
        match &mut self.modal {
            Modal::None => Effect::None,
            Modal::Editor(text) => match key.code {
                KeyCode::Esc => {
                    self.modal = Modal::None;
                    Effect::None
                }
                KeyCode::Enter if alt => {
                    text.push('\n');
                    Effect::None
                }
                KeyCode::Char('j') if ctrl => {
                    text.push('\n');
                    Effect::None
                }
                KeyCode::Enter => {
                    let prompt = text.trim().to_string();
                    self.modal = Modal::None;
                    if prompt.is_empty() {
                        self.set_notice("empty prompt: nothing sent", now);
                        return Effect::None;
                    }
                    self.settings.prompt = prompt;
                    self.apply(crate::base::keymap::Action::Probe, now)
                }
                KeyCode::Backspace => {
                    text.pop();
                    Effect::None
                }
                KeyCode::Char(c) if !ctrl => {
                    // A prompt, not a document: the cap keeps a pasted novel off the wire.
                    if text.len() < 8 * 1024 {
                        text.push(c);
                    }
                    Effect::None
                }
                _ => Effect::None,
            },
            Modal::Picker {
                typed, selected, ..
            } => match key.code {
                KeyCode::Esc => {
                    self.modal = Modal::None;
                    Effect::None
                }
                KeyCode::Up => {
                    *selected = selected.saturating_sub(1);
                    Effect::None
                }
                KeyCode::Down => {
                    *selected = (*selected + 1).min(matches.len().saturating_sub(1));
                    Effect::None
                }
                KeyCode::Enter => {
                    let choice = matches
                        .get(*selected)
                        .cloned()
                        .or_else(|| (!typed.trim().is_empty()).then(|| typed.trim().to_string()));
                    self.modal = Modal::None;
                    if let Some(model) = choice {
                        self.set_notice(format!("probe model: {model}"), now);
                        self.settings.model = Some(model);
                    }
                    Effect::None
                }
                KeyCode::Backspace => {
                    typed.pop();
                    *selected = 0;
                    Effect::None
                }
                KeyCode::Char(c) if !ctrl && typed.len() < 128 => {
                    typed.push(c);
                    *selected = 0;
                    Effect::None
                }
                _ => Effect::None,
            },
            Modal::ConfirmBurst => {
                let yes = matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y'));
                self.modal = Modal::None;
                if yes {
                    Effect::StartBurst
                } else {
                    Effect::None
                }
            }
            Modal::History { scroll } => {
                if scroll_list(scroll, history_len, key.code, 'h') {
                    self.modal = Modal::None;
                }
                Effect::None
            }
            Modal::Alerts { scroll } => {
                if scroll_list(scroll, alerts_len, key.code, 'a') {
                    self.modal = Modal::None;
                }
                Effect::None
            }
        }
    }

    /// Judges the alert rules on the view just computed, at `now` (the wall clock live, the
    /// cursor in a replay), and returns the rules that started or stopped firing; a new firing
    /// one rings the bell with `--bell`. A frozen display judges nothing: it is a picture.
    pub fn judge_alerts(&mut self, now: f64) -> Vec<crate::model::alert_board::AlertChange> {
        if self.frozen || self.alerts.recorded {
            return Vec::new();
        }
        let view = &self.view;
        let stale = view.is_stale(now);
        let input = crate::model::alert::input_of(
            &view.now,
            &view.models,
            &view.saturation,
            &view.budgets,
            &view.upstreams,
            stale,
        );
        let changes = self.alerts.update(&input, now);
        if self.bell && changes.iter().any(|c| c.firing) {
            self.bell_due = true;
        }
        changes
    }

    /// The model list for the picker arrived.
    pub fn models_listed(&mut self, result: Result<Vec<String>, String>) {
        if let Modal::Picker { models, error, .. } = &mut self.modal {
            match result {
                Ok(list) => *models = Some(list),
                Err(e) => {
                    *models = Some(Vec::new());
                    *error = Some(e);
                }
            }
        }
    }

    pub fn burst_started(&mut self, model: String, now: f64) {
        self.burst = Some(BurstState {
            title: "burst",
            model,
            total: self.settings.burst_size,
            concurrency: self.settings.burst_concurrency,
            started_at: now,
            finished_at: None,
            ok: 0,
            failed: 0,
            retries: 0,
            latencies: Vec::new(),
            ttfts: Vec::new(),
            cost_usd: 0.0,
            errors: Default::default(),
        });
    }

    /// `llmtop bench --tui`: the bench's requests fill the burst line from the start; `total`
    /// 0 when only a duration bounds the run.
    pub fn bench_started(&mut self, model: String, total: usize, concurrency: usize, now: f64) {
        self.burst_started(model, now);
        if let Some(b) = self.burst.as_mut() {
            b.title = "bench";
            b.total = total;
            b.concurrency = concurrency;
        }
    }

    /// Marks the bench (or burst) finished, whether or not it reached its total.
    pub fn burst_finished(&mut self, now: f64) {
        if let Some(b) = self.burst.as_mut() {
            b.finished_at.get_or_insert(now);
        }
    }

    pub fn burst_result(&mut self, result: &ProbeResult, cost: Option<f64>, now: f64) {
        let Some(b) = self.burst.as_mut() else { return };
        // A long bench keeps its newest samples only: memory stays bounded.
        for values in [&mut b.latencies, &mut b.ttfts] {
            if values.len() >= BURST_SAMPLES_KEPT {
                values.drain(..BURST_SAMPLES_KEPT / 2);
            }
        }
        if result.ok {
            b.ok += 1;
            b.latencies.push(result.latency.as_secs_f64());
        } else {
            b.failed += 1;
            let reason = result.error.clone().unwrap_or_else(|| "failed".into());
            let reason: String = reason.chars().take(80).collect();
            *b.errors.entry(reason).or_insert(0) += 1;
        }
        if let Some(t) = result.ttft {
            b.ttfts.push(t.as_secs_f64());
        }
        b.retries += result.retries;
        b.cost_usd += result.gateway_cost_usd.or(cost).unwrap_or(0.0);
        if b.total > 0 && b.done() >= b.total {
            b.finished_at = Some(now);
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
        if let ProbeState::Done(previous) = std::mem::take(&mut self.probe) {
            self.probe_history.push_front(*previous);
            self.probe_history.truncate(PROBE_HISTORY);
        }
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

    /// Every history entry, newest first: the current result, then older ones.
    pub fn history(&self) -> Vec<&ProbeSummary> {
        let current = match &self.probe {
            ProbeState::Done(p) => Some(p.as_ref()),
            _ => None,
        };
        current
            .into_iter()
            .chain(self.probe_history.iter())
            .collect()
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
