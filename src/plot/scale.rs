//! Scales: from a quantity (a time, a latency, a count) to a pixel, and
//! the round values an axis marks.

/// A linear scale from `[lo, hi]` to pixels `[x0, x1]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linear {
    lo: f64,
    hi: f64,
    x0: f64,
    x1: f64,
}

impl Linear {
    /// `[lo, hi]` onto `[x0, x1]` (an empty domain is widened by one).
    pub fn new(lo: f64, hi: f64, x0: f64, x1: f64) -> Linear {
        let hi = if hi > lo { hi } else { lo + 1.0 };
        Linear { lo, hi, x0, x1 }
    }

    /// The pixel of `v` (outside the domain: outside the range).
    pub fn at(&self, v: f64) -> f64 {
        self.x0 + (v - self.lo) / (self.hi - self.lo) * (self.x1 - self.x0)
    }

    /// The pixel of `v`, kept inside the range.
    pub fn clamped(&self, v: f64) -> f64 {
        let (a, b) = (self.x0.min(self.x1), self.x0.max(self.x1));
        self.at(v).clamp(a, b)
    }

    /// The domain.
    pub fn domain(&self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// About `n` round values inside the domain (1, 2 or 5 times a power
    /// of ten apart), in order.
    pub fn ticks(&self, n: usize) -> Vec<f64> {
        let span = self.hi - self.lo;
        let raw = span / n.max(1) as f64;
        let power = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * power)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * power);
        let mut v = (self.lo / step).ceil() * step;
        let mut out = Vec::new();
        while v <= self.hi + step * 1e-9 && out.len() <= 4 * n.max(1) {
            out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
            v += step;
        }
        out
    }
}

/// A logarithmic scale (base 10) from `[lo, hi]` (both > 0) to pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Log {
    inner: Linear,
}

impl Log {
    /// `[lo, hi]` (both > 0) onto `[x0, x1]`.
    pub fn new(lo: f64, hi: f64, x0: f64, x1: f64) -> Log {
        Log {
            inner: Linear::new(lo.log10(), hi.log10(), x0, x1),
        }
    }

    /// The decades around `values` (both > 0): the powers of ten just
    /// below the least and just above the greatest.
    pub fn decades(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
        let (mut lo, mut hi) = (f64::INFINITY, 0f64);
        for v in values.into_iter().filter(|v| *v > 0.0 && v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi == 0.0 {
            return None;
        }
        let lo = 10f64.powf(lo.log10().floor());
        let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
        Some((lo, hi))
    }

    /// The pixel of `v` (> 0).
    pub fn at(&self, v: f64) -> f64 {
        self.inner.at(v.log10())
    }

    /// 1, 2 and 5 times each power of ten inside the domain.
    pub fn ticks(&self) -> Vec<f64> {
        let (lo, hi) = self.inner.domain();
        let mut out = Vec::new();
        let mut decade = 10f64.powf(lo.floor());
        while decade.log10() <= hi + 1e-9 {
            for m in [1.0, 2.0, 5.0] {
                let v = decade * m;
                let l = v.log10();
                if l >= lo - 1e-9 && l <= hi + 1e-9 {
                    out.push(v);
                }
            }
            decade *= 10.0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_maps_ends_to_ends() {
        let s = Linear::new(0.0, 200.0, 100.0, 500.0);
        assert_eq!(s.at(0.0), 100.0);
        assert_eq!(s.at(200.0), 500.0);
        assert_eq!(s.clamped(400.0), 500.0);
    }

    #[test]
    fn linear_ticks_are_round_and_inside() {
        let s = Linear::new(3.0, 97.0, 0.0, 1.0);
        assert_eq!(s.ticks(5), vec![20.0, 40.0, 60.0, 80.0]);
        let s = Linear::new(0.0, 0.7, 0.0, 1.0);
        assert_eq!(s.ticks(4).len(), 4); // 0, 0.2, 0.4, 0.6
    }

    #[test]
    fn log_ticks_cover_the_decades() {
        let (lo, hi) = Log::decades([55.0, 1769.0]).unwrap();
        assert_eq!((lo, hi), (10.0, 10_000.0));
        let s = Log::new(lo, hi, 0.0, 300.0);
        assert_eq!(s.ticks().len(), 10);
        assert!((s.at(100.0) - 100.0).abs() < 1e-9);
    }
}
