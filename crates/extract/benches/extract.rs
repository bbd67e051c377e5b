//! Extraction throughput (MB/s, 10^6 bytes) on a deterministic threat-intel-like corpus,
//! and on adversarial 10 MB lines that would expose super-linear behaviour.
//!
//! ```sh
//! cargo bench -p rexist-extract --bench extract
//! ```
//!
//! The real-corpus figure in the README comes from `rexist bench extract` on the
//! scorer's generator output; this bench needs no file.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16)]))
            .collect()
    }
}

const PROSE: &[&str] = &[
    "Researchers said the group has been targeting healthcare organisations since",
    "The campaign relies on malicious attachments delivered through phishing emails.",
    "A spokesperson declined to comment on the number of affected customers.",
    "Administrators were urged to upgrade to version 7.4.3 and to review logs.",
    "The loader writes invoice.zip and setup.exe to the AppData folder.",
    "Microsoft Defender detects the payload as Trojan:Win32/Emotet.A!ml today.",
    "Persistence is achieved through HKCU\\Software\\Microsoft\\Windows\\Run.",
    "The certificate OID 1.3.6.1.4.1.311.2.1 appeared in file version 10.0.1.2.",
    "Logs show the first malicious request at 12:30:45 UTC on 2024-05-02.",
    "攻撃者は「example[.]jp」へ通信した。",
];
const WORDS: &[&str] = &[
    "secure", "login", "update", "cdn", "portal", "files", "sync", "mail",
];
const TLDS: &[&str] = &["com", "net", "org", "xyz", "top", "ru", "io", "co.uk"];

fn domain(r: &mut Rng) -> String {
    format!("{}-{}.{}", r.pick(WORDS), r.pick(WORDS), r.pick(TLDS))
}

fn ioc(r: &mut Rng) -> String {
    let ip = format!(
        "{}.{}.{}.{}",
        1 + r.below(223),
        r.below(256),
        r.below(256),
        1 + r.below(254)
    );
    match r.below(9) {
        0 => domain(r).replace('.', "[.]"),
        1 => domain(r),
        2 => format!(
            "hxxps://{}/{}/{}.php",
            domain(r).replace('.', "[.]"),
            r.pick(WORDS),
            r.pick(WORDS)
        ),
        3 => format!("https://{}/{}", domain(r), r.hex(8)),
        4 => format!(
            "{}[.]{}",
            &ip[..ip.rfind('.').unwrap_or(0)],
            &ip[ip.rfind('.').map_or(0, |i| i + 1)..]
        ),
        5 => ip,
        6 => format!("{}[@]{}", r.pick(WORDS), domain(r)),
        7 => {
            let len = [32, 40, 64][r.below(3)];
            r.hex(len)
        }
        _ => format!("CVE-20{}-{}", 14 + r.below(11), 1000 + r.below(50000)),
    }
}

/// About `bytes` of prose with an indicator every few sentences.
fn corpus(bytes: usize) -> String {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut s = String::with_capacity(bytes + 256);
    while s.len() < bytes {
        s.push_str(r.pick(PROSE));
        s.push(' ');
        if r.below(3) == 0 {
            s.push_str("Indicator: ");
            s.push_str(&ioc(&mut r));
            s.push_str(". ");
        }
        if r.below(6) == 0 {
            s.push('\n');
        }
    }
    s
}

const TEN_MB: usize = 10_000_000;

fn bench(c: &mut Criterion) {
    let text = corpus(4_000_000);
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::BytesDecimal(text.len() as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.bench_function("threat-intel 4 MB", |b| b.iter(|| extract_len(&text)));
    g.finish();

    let adversarial = [
        ("dots", ".".repeat(TEN_MB)),
        ("brackets", "[".repeat(TEN_MB)),
        ("hex digits", "a1b2c3d4e5".repeat(TEN_MB / 10)),
        ("a.a.a", "a.".repeat(TEN_MB / 2)),
        ("defanged labels a[.]a[.]", "a[.]".repeat(TEN_MB / 4)),
        ("colons 1:1:1", "1:".repeat(TEN_MB / 2)),
    ];
    let mut g = c.benchmark_group("adversarial 10 MB line");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for (name, text) in &adversarial {
        g.throughput(Throughput::BytesDecimal(text.len() as u64));
        g.bench_function(*name, |b| b.iter(|| extract_len(text)));
    }
    g.finish();
}

fn extract_len(text: &str) -> usize {
    rexist_extract::extract(black_box(text)).len()
}

criterion_group!(benches, bench);
criterion_main!(benches);
