//! Pathological inputs must run in linear time. No wall-clock bound (the machines are
//! shared and noisy): each input is timed at two sizes in the same run, and 8 times the
//! input must cost far less than the 64 times a quadratic scanner would take. The
//! benchmark (`rexist bench extract`) reports the real figures.

use std::time::{Duration, Instant};

use rexist_extract::extract;

const SMALL: usize = 1 << 17;
const LARGE: usize = 8 * SMALL;

/// Best of three, floored so a near-zero small time cannot blow up the ratio.
fn best_time(text: &str) -> Duration {
    (0..3)
        .map(|_| {
            let t0 = Instant::now();
            std::hint::black_box(extract(text));
            t0.elapsed()
        })
        .min()
        .unwrap_or_default()
        .max(Duration::from_micros(300))
}

fn repeat(unit: &str, size: usize) -> String {
    unit.repeat(size / unit.len())
}

#[test]
fn pathological_lines_are_linear() {
    let inputs = [
        ("dots", ".", ""),
        ("brackets", "[", ""),
        ("bracket dots", "a[.]", ""),
        ("hex", "a", ""),
        ("digits and dots", "1.", ""),
        ("labels", "a.", ""),
        ("colons", "1:", ""),
        ("double colons", "::", ""),
        ("at signs", "a@", ""),
        ("url path", "(", "http://a.com/"),
        ("closing parens", ")", "http://a.com/"),
        ("spaced defangs", "a [.] ", ""),
        ("cjk", "例子.", ""),
        ("backslashes", "a\\.", ""),
    ];
    for (name, unit, prefix) in &inputs {
        let small = format!("{prefix}{}", repeat(unit, SMALL));
        let large = format!("{prefix}{}", repeat(unit, LARGE));
        let (t_small, t_large) = (best_time(&small), best_time(&large));
        let ratio = t_large.as_secs_f64() / t_small.as_secs_f64();
        assert!(
            ratio < 24.0,
            "{name}: 8x the input took {ratio:.1}x the time ({t_small:?} -> {t_large:?})"
        );
    }
}
