//! The probe panel: the running or last probe, the burst's progress, and the history line.
use super::*;

pub(super) fn probe_line(p: &ProbeSummary, theme: &Theme) -> Line<'static> {
    let (mark, color) = if p.ok {
        ("✓", theme.ok)
    } else {
        ("✗", theme.error)
    };
    let status = p
        .status
        .map(|s| s.to_string())
        .unwrap_or_else(|| UNKNOWN.to_string());
    let mut spans = vec![
        Span::styled(
            format!("{mark} {status} "),
            Style::new().fg(color).add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("{} ", p.model), theme.text()),
        Span::styled("TTFT ", theme.dim()),
        Span::styled(
            format!("{} ", format::seconds(p.ttft.map(|d| d.as_secs_f64()))),
            Style::new().fg(theme.p50),
        ),
        Span::styled("total ", theme.dim()),
        Span::styled(
            format!("{} ", format::seconds(Some(p.latency.as_secs_f64()))),
            theme.text(),
        ),
        Span::styled("tokens ", theme.dim()),
        Span::styled(
            format!(
                "{}→{} ",
                p.input_tokens
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| UNKNOWN.into()),
                p.output_tokens
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| UNKNOWN.into())
            ),
            theme.text(),
        ),
        Span::styled(
            format!(
                "{} ",
                format::rate(p.tokens_per_second()).replace("/s", " tok/s")
            ),
            theme.dim(),
        ),
        Span::styled(
            format!("{} ", format::usd(p.cost_usd)),
            Style::new().fg(theme.accent),
        ),
    ];
    if let Some(gw) = p.gateway_cost_usd {
        spans.push(Span::styled(
            format!("(gateway {}) ", format::usd(Some(gw))),
            theme.dim(),
        ));
    }
    if p.retries > 0 {
        spans.push(Span::styled(
            format!("retries {} ", p.retries),
            Style::new().fg(theme.warn),
        ));
    }
    if let Some(e) = &p.error {
        spans.push(Span::styled(e.clone(), Style::new().fg(theme.error)));
    }
    Line::from(spans)
}

pub(super) fn render_probe(frame: &mut Frame<'_>, area: Rect, app: &App, now: f64) {
    let theme = &app.theme;
    let mut extra = vec![Span::styled(format!("{} ", app.api_base), theme.dim())];
    if let Some(m) = &app.settings.model {
        extra.push(Span::styled(format!("model {m} "), theme.text()));
    }
    if app.probe_spent_usd > 0.0 {
        let budget = app
            .settings
            .max_spend_usd
            .map(|m| format!(" of {}", format::usd(Some(m))))
            .unwrap_or_default();
        extra.push(Span::styled(
            format!("spent {}{budget} ", format::usd(Some(app.probe_spent_usd))),
            theme.dim(),
        ));
    }
    if app.settings.read_only {
        extra.push(Span::styled(
            " READ-ONLY ",
            Style::new().fg(theme.badge_fg).bg(theme.warn),
        ));
    }
    if let Some(why) = &app.showing_probes {
        extra.push(Span::styled(
            format!(" panels show probe results — {why} "),
            Style::new().fg(theme.badge_fg).bg(theme.accent),
        ));
    }
    let block = panel(TITLE_PROBE, extra, theme, false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines: Vec<Line<'_>> = Vec::new();
    if let Some(b) = &app.burst {
        lines.extend(burst_lines(b, theme, inner.width, now));
    }
    let answer: Option<&str> = match &app.probe {
        ProbeState::Idle => {
            lines.push(Line::from(vec![
                Span::styled("press ", theme.dim()),
                Span::styled(
                    app.keymap.first_label(keymap::Action::Probe),
                    Style::new().fg(theme.key).add_modifier(Modifier::BOLD),
                ),
                Span::styled(
                    " to send a probe prompt through the gateway and measure TTFT, tokens and cost",
                    theme.dim(),
                ),
            ]));
            None
        }
        ProbeState::Running {
            model,
            started_at,
            answer,
            reasoning_chars,
        } => {
            let mut spans = vec![
                Span::styled(
                    "◌ probing ",
                    Style::new().fg(theme.accent).add_modifier(Modifier::BOLD),
                ),
                Span::styled(format!("{model} "), theme.text()),
                Span::styled(
                    format::seconds(Some((now - started_at).max(0.0))),
                    theme.dim(),
                ),
            ];
            if *reasoning_chars > 0 {
                spans.push(Span::styled(
                    format!("  reasoning… {reasoning_chars} chars"),
                    theme.dim(),
                ));
            }
            lines.push(Line::from(spans));
            Some(answer.as_str())
        }
        ProbeState::Done(p) => {
            lines.push(probe_line(p, theme));
            Some(p.answer.as_str())
        }
    };
    if let Some(text) = answer.filter(|t| !t.is_empty()) {
        // Show the end of the answer: that is where a streaming probe is.
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let room = (inner.width as usize).saturating_mul(2).max(10);
        let start = flat
            .char_indices()
            .rev()
            .nth(room.saturating_sub(1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let tail = if start > 0 {
            format!("…{}", &flat[start..])
        } else {
            flat
        };
        lines.push(Line::from(Span::styled(tail, theme.text())));
    }
    for p in app
        .probe_history
        .iter()
        .take(inner.height.saturating_sub(lines.len() as u16 + 1) as usize)
    {
        let mut line = probe_line(p, theme);
        line = line.style(theme.dim());
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

pub(super) fn burst_lines(
    b: &BurstState,
    theme: &Theme,
    width: u16,
    now: f64,
) -> Vec<Line<'static>> {
    let done = b.done();
    let elapsed = b.finished_at.unwrap_or(now) - b.started_at;
    let bar_width = (width as usize).saturating_sub(60).clamp(10, 40);
    let filled = (done * bar_width)
        .checked_div(b.total)
        .unwrap_or(0)
        .min(bar_width);
    let (full, empty) = if theme.ascii {
        ("#", ".")
    } else {
        ("█", "░")
    };
    let bar = format!(
        "{}{}",
        full.repeat(filled),
        empty.repeat(bar_width - filled)
    );
    let rate = if elapsed > 0.0 {
        done as f64 / elapsed
    } else {
        0.0
    };
    let state = if b.finished_at.is_some() {
        format!("{} done", b.title)
    } else {
        b.title.to_string()
    };
    let planned = if b.total > 0 {
        format!("×{} ", b.total)
    } else {
        String::new()
    };
    let counted = if b.total > 0 {
        format!(" {done}/{} ", b.total)
    } else {
        format!(" {done} ")
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("{state} "),
            Style::new().fg(theme.accent).add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!("{} {planned}c{} ", b.model, b.concurrency),
            theme.text(),
        ),
        Span::styled(bar, Style::new().fg(theme.accent)),
        Span::styled(counted, theme.text()),
        Span::styled(format!("ok {} ", b.ok), Style::new().fg(theme.ok)),
        Span::styled(
            format!("failed {} ", b.failed),
            Style::new().fg(if b.failed > 0 { theme.error } else { theme.dim }),
        ),
        Span::styled(
            format!("{:.1} req/s {} ", rate, format::seconds(Some(elapsed))),
            theme.dim(),
        ),
    ])];
    let [latency_p50, latency_p95] = BurstState::percentiles(&b.latencies, [0.5, 0.95]);
    let [ttft_p50, ttft_p95] = BurstState::percentiles(&b.ttfts, [0.5, 0.95]);
    let mut summary = vec![
        Span::styled("latency p50 ", theme.dim()),
        Span::styled(
            format!("{} ", format::seconds(latency_p50)),
            Style::new().fg(theme.p50),
        ),
        Span::styled("p95 ", theme.dim()),
        Span::styled(
            format!("{} ", format::seconds(latency_p95)),
            Style::new().fg(theme.p95),
        ),
        Span::styled("TTFT p50 ", theme.dim()),
        Span::styled(
            format!("{} ", format::seconds(ttft_p50)),
            Style::new().fg(theme.p50),
        ),
        Span::styled("p95 ", theme.dim()),
        Span::styled(
            format!("{} ", format::seconds(ttft_p95)),
            Style::new().fg(theme.p95),
        ),
        Span::styled("cost ", theme.dim()),
        Span::styled(
            format!("{} ", format::usd(Some(b.cost_usd))),
            Style::new().fg(theme.accent),
        ),
    ];
    if b.retries > 0 {
        summary.push(Span::styled(
            format!("retries {} ", b.retries),
            Style::new().fg(theme.warn),
        ));
    }
    if let Some((reason, n)) = b.errors.iter().max_by_key(|(_, n)| **n) {
        summary.push(Span::styled(
            format!("{n}× {reason}"),
            Style::new().fg(theme.error),
        ));
    }
    lines.push(Line::from(summary));
    lines
}
