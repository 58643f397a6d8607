//! A history's calls in the order of a time of their window, in about
//! linear time and without a sorted copy of the history.
//!
//! A recording lists events in the order they completed, and a call's
//! window starts before it completes, so ordering by the window's start
//! only moves a call past the calls that overlapped it. [`InOrder`] holds
//! the calls still open to being overtaken in a heap and yields one as soon
//! as no later call can come before it (the smallest key from each position
//! on is computed once, from the back): O(n log k) for k overlapping calls,
//! never worse than a heap sort, and the checker holds one span of calls at
//! a time instead of a sorted copy of them all (on a million events that
//! copy, not the sorting, was most of the time).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The indices `0..n` in the order of `(key(i), i)`: the order a stable
/// sort by key gives, yielded one at a time.
pub(crate) struct InOrder<K, F> {
    key: F,
    /// The smallest key from each position on.
    least: Vec<K>,
    open: BinaryHeap<Reverse<(K, usize)>>,
    next: usize,
}

impl<K: Ord + Copy, F: Fn(usize) -> K> InOrder<K, F> {
    /// The order of `0..n` by `key`.
    pub(crate) fn new(n: usize, key: F) -> InOrder<K, F> {
        let mut least: Vec<K> = (0..n).map(&key).collect();
        for i in (1..n).rev() {
            if least[i] < least[i - 1] {
                least[i - 1] = least[i];
            }
        }
        InOrder {
            key,
            least,
            open: BinaryHeap::new(),
            next: 0,
        }
    }
}

impl<K: Ord + Copy, F: Fn(usize) -> K> Iterator for InOrder<K, F> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        loop {
            // An open call at a key no later call goes below comes first (a
            // later call with the same key has a larger index).
            let bound = self.least.get(self.next).copied();
            match (self.open.peek(), bound) {
                (Some(&Reverse((k, j))), Some(b)) if k <= b => {
                    self.open.pop();
                    return Some(j);
                }
                (Some(_), None) => return self.open.pop().map(|Reverse((_, j))| j),
                (_, None) => return None,
                _ => {}
            }
            let i = self.next;
            self.next += 1;
            let key = (self.key)(i);
            let later = self.least.get(self.next).copied();
            if self.open.is_empty() && later.map_or(true, |l| key <= l) {
                return Some(i); // nothing can overtake it: the common case
            }
            self.open.push(Reverse((key, i)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InOrder;

    fn order(keys: &[i64]) -> Vec<usize> {
        InOrder::new(keys.len(), |i| keys[i]).collect()
    }

    /// The order a stable sort gives, on every small input and on long
    /// shuffled ones.
    #[test]
    fn in_order_is_a_stable_sort_by_key() {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        for len in 0..2000 {
            let spread = 1 + next() % 50;
            let keys: Vec<i64> = (0..len)
                .map(|i| i as i64 - (next() % spread) as i64 * (next() % 3) as i64)
                .collect();
            let mut want: Vec<usize> = (0..keys.len()).collect();
            want.sort_by_key(|&i| keys[i]);
            assert_eq!(order(&keys), want, "{keys:?}");
        }
        assert_eq!(order(&[3, 1, 2, 1]), vec![1, 3, 2, 0]);
        assert_eq!(order(&[5, 4, 3, 2, 1]), vec![4, 3, 2, 1, 0]);
        assert!(order(&[]).is_empty());
    }
}
