//! Frame cost: the view model computed from the fixed data set, and one full frame drawn at 200×60.
use criterion::{Criterion, criterion_group, criterion_main};
use llmtop::base::dialect;
use llmtop::base::pricing::PriceTable;
use llmtop::front::tui::app::App;
use llmtop::front::tui::render;
use llmtop::front::tui::theme::Theme;
use llmtop::model::view::{DashboardView, ViewParams};
use llmtop::support::testdata;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn bench_render(c: &mut Criterion) {
    let store = testdata::store();
    let prices = PriceTable::builtin();
    let signals = dialect::builtin()
        .into_iter()
        .find(|d| d.name == "seed")
        .map(|d| d.signals())
        .unwrap_or_default();
    let (width, height) = (200u16, 60u16);
    let params = ViewParams {
        url: "http://127.0.0.1:9100/metrics",
        window: 300.0,
        interval: testdata::INTERVAL,
        columns: render::chart_columns(width),
        dialect_signals: &signals,
        model_filter: None,
    };
    c.bench_function("view_model_5m_window_200_cols", |b| {
        b.iter(|| DashboardView::compute(&store, &prices, &params))
    });
    let view = DashboardView::compute(&store, &prices, &params);
    let app = App::new(
        view,
        Theme::builtin_default(),
        300.0,
        3600.0,
        "http://127.0.0.1:9100/".into(),
    );
    let now = store.latest_time().unwrap_or(0.0) + 0.5;
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    c.bench_function("render_frame_200x60", |b| {
        b.iter(|| {
            terminal
                .draw(|f| render::render(f, &app, now))
                .expect("draw");
        })
    });
    // The default SSH terminal: the charts page of the compact layout.
    let mut small = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    c.bench_function("render_frame_80x24_charts_page", |b| {
        b.iter(|| {
            small.draw(|f| render::render(f, &app, now)).expect("draw");
        })
    });
}

/// The same frame for a routing gateway after a failover: the Gateway panel beside the model
/// table, from `tests/fixtures/metrics/litellm_failover.prom` scraped twice 10 s apart.
fn bench_render_gateway(c: &mut Criterion) {
    let after = include_str!("../tests/fixtures/metrics/litellm_failover.prom");
    let before: String = after
        .lines()
        .map(|l| match l.rsplit_once(' ') {
            Some((series, _)) if !l.starts_with('#') && series.contains("_total{") => {
                format!("{series} 0\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    let litellm = dialect::builtin()
        .into_iter()
        .find(|d| d.name == "litellm")
        .expect("the litellm dialect");
    let mut store = llmtop::model::store::TargetStore::new(
        "litellm",
        llmtop::model::store::StoreLimits::default(),
    );
    for (t, text) in [(1000.0, before.as_str()), (1010.0, after)] {
        let parsed = llmtop::base::exposition::parse(text);
        store.ingest(t, &litellm.map(&parsed, "litellm").samples);
    }
    let signals = litellm.signals();
    let (width, height) = (200u16, 60u16);
    let params = ViewParams {
        url: "http://127.0.0.1:4000/metrics",
        window: 300.0,
        interval: 10.0,
        columns: render::chart_columns(width),
        dialect_signals: &signals,
        model_filter: None,
    };
    let view = DashboardView::compute(&store, &PriceTable::builtin(), &params);
    assert!(!view.upstreams.is_empty(), "the Gateway panel is drawn");
    let app = App::new(
        view,
        Theme::builtin_default(),
        300.0,
        3600.0,
        "http://127.0.0.1:4000/".into(),
    );
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    c.bench_function("render_frame_200x60_gateway", |b| {
        b.iter(|| {
            terminal
                .draw(|f| render::render(f, &app, 1010.5))
                .expect("draw");
        })
    });
}

criterion_group!(benches, bench_render, bench_render_gateway);
criterion_main!(benches);
