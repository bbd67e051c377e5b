//! Micro benchmark: checks per second against all bundled lists.
//!
//! ```sh
//! cargo run --release -p rexist-warnlist --example throughput [N]
//! ```
//!
//! Generates N (default 1,000,000) canonical values of mixed types, about one
//! in eight of them listed, and times `WarningLists::check` over all of them.
//! Also prints the one-off cost of parsing and compiling the bundled lists.

use std::time::Instant;

use rexist_core::IndicatorType as T;
use rexist_warnlist::WarningLists;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn word(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'a' + u8::try_from(self.below(26)).unwrap_or(0)))
            .collect()
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| {
                char::from_digit(u32::try_from(self.below(16)).unwrap_or(0), 16).unwrap_or('0')
            })
            .collect()
    }
}

fn generate(rng: &mut Rng) -> (T, String) {
    let listed = rng.below(8) == 0;
    match rng.below(8) {
        0 | 1 => {
            let v = if listed {
                format!("192.0.2.{}", rng.below(256))
            } else {
                let a = rng.next();
                format!(
                    "{}.{}.{}.{}",
                    a >> 24 & 255,
                    a >> 16 & 255,
                    a >> 8 & 255,
                    a & 255
                )
            };
            (T::Ipv4, v)
        }
        2 => {
            let a = rng.next();
            let v = if listed {
                format!("2001:db8:{:x}::{:x}", a & 0xffff, a >> 48)
            } else {
                // Random global unicast; a fixed prefix could be a listed provider.
                format!(
                    "2{:03x}:{:x}:{:x}::{:x}",
                    a & 0xfff,
                    a >> 16 & 0xffff,
                    a >> 32 & 0xffff,
                    a >> 48
                )
            };
            (T::Ipv6, v)
        }
        3 | 4 => {
            let v = if listed {
                format!("{}.bit.ly", rng.word(6))
            } else {
                format!("{}.{}.com", rng.word(5), rng.word(8))
            };
            (T::Domain, v)
        }
        5 => {
            let host = if listed {
                "app.any.run".to_owned()
            } else {
                format!("{}.example.net", rng.word(7))
            };
            (
                T::Url,
                format!(
                    "https://{host}/{}/{}?id={}",
                    rng.word(5),
                    rng.word(9),
                    rng.below(1 << 20)
                ),
            )
        }
        6 => {
            let v = if listed {
                "d41d8cd98f00b204e9800998ecf8427e".to_owned()
            } else {
                rng.hex(32)
            };
            (T::Md5, v)
        }
        _ => {
            let v = if listed {
                format!("abuse@{}.org", rng.word(6))
            } else {
                format!("{}@{}.de", rng.word(6), rng.word(6))
            };
            (T::Email, v)
        }
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);

    let start = Instant::now();
    let lists = WarningLists::bundled();
    let load = start.elapsed();
    let entries: usize = lists.lists().iter().map(|l| l.entries).sum();
    println!(
        "loaded {} lists, {entries} entries, {} skipped, in {load:.2?}",
        lists.lists().len(),
        lists.skipped().len()
    );

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let values: Vec<(T, String)> = (0..n).map(|_| generate(&mut rng)).collect();

    let start = Instant::now();
    let mut flagged = 0usize;
    let mut matches = 0usize;
    for (kind, value) in &values {
        let m = lists.check(*kind, value);
        flagged += usize::from(!m.is_empty());
        matches += m.len();
    }
    let elapsed = start.elapsed();
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / elapsed.as_secs_f64();
    println!(
        "{n} checks in {elapsed:.2?}: {rate:.0} checks/s ({flagged} flagged, {matches} matches)"
    );
}
