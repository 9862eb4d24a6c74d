//! The daily and weekly rhythm of an account's activity, and Poisson arrivals that follow it.
//!
//! Activity is split into two levels: *human* activity (engineers, consoles, deploys they
//! trigger), which follows working hours in UTC and nearly stops at weekends, and *automation*
//! (Lambda functions, instances, AWS services), which runs around the clock and only swells a
//! little with daytime customer traffic. Their sum is the rate curve; their ratio decides which
//! kind of principal makes each event.
//!
//! Only IEEE-exact arithmetic (`+ - * /`, comparisons) is used on the paths that decide
//! events, never `exp`/`ln`/`cos` from the platform's libm, whose last bit may differ between
//! machines and would make "same seed, same bytes" machine-dependent.

use rand::Rng;

/// Relative human activity by UTC hour on a weekday (US east-coast mornings overlap European
/// afternoons at 14:00-16:00 UTC, the busiest hours).
const HUMAN_WEEKDAY: [f64; 24] = [
    0.05, 0.03, 0.02, 0.02, 0.03, 0.06, 0.14, 0.30, 0.50, 0.66, 0.75, 0.80, 0.84, 0.92, 1.00, 1.00,
    0.92, 0.80, 0.66, 0.50, 0.34, 0.20, 0.10, 0.07,
];
/// Weekend human activity relative to a weekday (on-call checks, the odd deploy).
const WEEKEND_FACTOR: f64 = 0.15;
/// Automation's constant floor, relative to the weekday human peak.
const AUTO_BASE: f64 = 0.30;
/// How much automation swells with (weekday-shaped) daytime traffic.
const AUTO_DAYTIME: f64 = 0.10;

const HOURS_PER_WEEK: usize = 7 * 24;

/// The activity levels at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Levels {
    /// Human-driven activity, in events per second.
    pub human: f64,
    /// Automation activity, in events per second.
    pub auto: f64,
}

impl Levels {
    /// The total rate, in events per second.
    pub fn total(self) -> f64 {
        self.human + self.auto
    }
}

/// The weekly rate curve, scaled so that a week averages `events_per_day` per day.
#[derive(Debug, Clone)]
pub(crate) struct Rhythm {
    /// Human level at each hour of the week (Monday 00:00 UTC first), in events per second.
    human: [f64; HOURS_PER_WEEK],
    /// Automation level at each hour of the week, in events per second.
    auto: [f64; HOURS_PER_WEEK],
    /// The highest total rate anywhere in the week (the curve is piecewise linear between
    /// hourly nodes, so its maximum is at a node).
    max_rate: f64,
}

impl Rhythm {
    /// The curve for a mean of `events_per_day` (non-finite or negative means no activity).
    pub fn new(events_per_day: f64) -> Self {
        let per_day = if events_per_day.is_finite() && events_per_day > 0.0 {
            events_per_day
        } else {
            0.0
        };
        let mut human = [0.0; HOURS_PER_WEEK];
        let mut auto = [0.0; HOURS_PER_WEEK];
        for (i, (h, a)) in human.iter_mut().zip(auto.iter_mut()).enumerate() {
            let day = i / 24;
            let shape = HUMAN_WEEKDAY[i % 24];
            *h = if day >= 5 {
                shape * WEEKEND_FACTOR
            } else {
                shape
            };
            *a = AUTO_BASE + AUTO_DAYTIME * shape;
        }
        // A piecewise-linear cyclic curve averages exactly the mean of its nodes.
        let node_sum: f64 = human.iter().zip(&auto).map(|(h, a)| h + a).sum();
        let mean = node_sum / HOURS_PER_WEEK as f64;
        let scale = per_day / 86_400.0 / mean;
        let mut max_rate: f64 = 0.0;
        for (h, a) in human.iter_mut().zip(auto.iter_mut()) {
            *h *= scale;
            *a *= scale;
            max_rate = max_rate.max(*h + *a);
        }
        Rhythm {
            human,
            auto,
            max_rate,
        }
    }

    /// The levels at `unix_secs` (seconds since the epoch, fractions allowed).
    pub fn levels(&self, unix_secs: f64) -> Levels {
        // 1970-01-01 was a Thursday: shift so that index 0 is Monday 00:00.
        const MONDAY_OFFSET: f64 = 3.0 * 86_400.0;
        const WEEK: f64 = 7.0 * 86_400.0;
        let in_week = (unix_secs + MONDAY_OFFSET).rem_euclid(WEEK);
        let hours = in_week / 3600.0;
        let node = (hours as usize).min(HOURS_PER_WEEK - 1);
        let frac = hours - node as f64;
        let next = (node + 1) % HOURS_PER_WEEK;
        let lerp = |v: &[f64; HOURS_PER_WEEK]| v[node] + (v[next] - v[node]) * frac;
        Levels {
            human: lerp(&self.human),
            auto: lerp(&self.auto),
        }
    }

    /// The mean rate at `unix_secs`, in events per second.
    pub fn rate(&self, unix_secs: f64) -> f64 {
        self.levels(unix_secs).total()
    }

    /// An upper bound of [`Rhythm::rate`], for thinning.
    pub fn max_rate(&self) -> f64 {
        self.max_rate
    }
}

/// An exponentially distributed wait with the given rate (events per second).
pub(crate) fn exponential<R: Rng + ?Sized>(rng: &mut R, rate: f64) -> f64 {
    // 1 - u is in (0, 1], so the logarithm is finite.
    let u = 1.0 - rng.random::<f64>();
    -det_ln(u) / rate
}

/// The natural logarithm using only IEEE-exact operations, so that results are bit-identical
/// on every platform (see the module docs). Accurate to about 1e-15 relative for positive
/// normal inputs, which is all the arrival process needs.
pub(crate) fn det_ln(x: f64) -> f64 {
    const LN2: f64 = std::f64::consts::LN_2;
    const SQRT2: f64 = std::f64::consts::SQRT_2;
    if x.is_nan() || x <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    // Mantissa in [1, 2).
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if exponent == -1023 {
        // Subnormal: renormalise (never reached for arrival draws, kept for totality).
        return det_ln(x * 4_503_599_627_370_496.0) - 52.0 * LN2;
    }
    if m > SQRT2 {
        m /= 2.0;
        exponent += 1;
    }
    // ln(m) = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    while k < 40.0 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    2.0 * sum + exponent as f64 * LN2
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn det_ln_agrees_with_libm() {
        for x in [
            1e-300, 1e-9, 0.001, 0.3, 0.5, 0.999_999, 1.0, 1.5, 2.0, 10.0, 1e12,
        ] {
            let want = f64::ln(x);
            let got = det_ln(x);
            assert!(
                (got - want).abs() <= 1e-13 * want.abs().max(1.0),
                "{x}: {got} vs {want}"
            );
        }
        assert_eq!(det_ln(0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn a_week_averages_the_configured_volume() {
        let r = Rhythm::new(50_000.0);
        // Integrate minute by minute over a week starting on a Monday.
        let monday = 1_767_571_200.0; // 2026-01-05T00:00:00Z, a Monday
        let total: f64 = (0..7 * 24 * 60)
            .map(|m| r.rate(monday + f64::from(m) * 60.0 + 30.0) * 60.0)
            .sum();
        let per_day = total / 7.0;
        assert!((per_day - 50_000.0).abs() < 50.0, "{per_day}");
        assert!(r.max_rate() >= r.rate(monday + 14.5 * 3600.0));
    }

    #[test]
    fn working_hours_are_busier_than_nights_and_weekends() {
        let r = Rhythm::new(50_000.0);
        let monday = 1_767_571_200.0;
        let peak = r.rate(monday + 15.0 * 3600.0);
        let night = r.rate(monday + 3.0 * 3600.0);
        let saturday_peak = r.rate(monday + 5.0 * 86_400.0 + 15.0 * 3600.0);
        assert!(peak > 3.0 * night, "{peak} vs {night}");
        assert!(peak > 2.0 * saturday_peak);
        let l = r.levels(monday + 3.0 * 3600.0);
        assert!(l.auto > l.human, "automation dominates at night");
    }

    #[test]
    fn exponential_waits_have_the_right_mean() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let n = 20_000;
        let mean: f64 = (0..n).map(|_| exponential(&mut rng, 4.0)).sum::<f64>() / f64::from(n);
        assert!((mean - 0.25).abs() < 0.01, "{mean}");
    }

    #[test]
    fn no_volume_means_no_rate() {
        assert_eq!(Rhythm::new(f64::NAN).max_rate(), 0.0);
        assert_eq!(Rhythm::new(-5.0).rate(0.0), 0.0);
    }
}
