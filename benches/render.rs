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
}

criterion_group!(benches, bench_render);
criterion_main!(benches);
