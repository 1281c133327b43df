//! Strongly connected components (Tarjan) and rings that show them.

use std::collections::{BTreeSet, VecDeque};

/// A directed graph on nodes `0..n`.
#[derive(Debug, Clone)]
pub struct Graph {
    adj: Vec<Vec<usize>>,
}

struct Tarjan<'a> {
    adj: &'a [Vec<usize>],
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
    out: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for &w in &self.adj[v] {
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            comp.sort_unstable();
            self.out.push(comp);
        }
    }
}

impl Graph {
    /// A graph on `n` nodes with the given edges (self-loops are dropped).
    pub fn new(n: usize, edges: impl IntoIterator<Item = (usize, usize)>) -> Graph {
        let mut adj = vec![Vec::new(); n];
        for (a, b) in edges {
            if a != b && a < n && b < n && !adj[a].contains(&b) {
                adj[a].push(b);
            }
        }
        for list in &mut adj {
            list.sort_unstable();
        }
        Graph { adj }
    }

    /// The strongly connected components with more than one node, each
    /// sorted, ordered by their smallest node.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let n = self.adj.len();
        let mut t = Tarjan {
            adj: &self.adj,
            index: vec![None; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            next: 0,
            out: Vec::new(),
        };
        for v in 0..n {
            if t.index[v].is_none() {
                t.visit(v);
            }
        }
        let mut comps: Vec<Vec<usize>> = t.out.into_iter().filter(|c| c.len() > 1).collect();
        comps.sort();
        comps
    }

    /// The shortest path from `from` to `to` inside `within`, both ends
    /// included.
    fn shortest_path(
        &self,
        from: usize,
        to: usize,
        within: &BTreeSet<usize>,
    ) -> Option<Vec<usize>> {
        let mut prev = vec![None; self.adj.len()];
        let mut seen = vec![false; self.adj.len()];
        let mut queue = VecDeque::from([from]);
        seen[from] = true;
        while let Some(v) = queue.pop_front() {
            if v == to {
                let mut path = vec![to];
                let mut cur = to;
                while let Some(p) = prev[cur] {
                    path.push(p);
                    cur = p;
                }
                path.reverse();
                return Some(path);
            }
            for &w in &self.adj[v] {
                if within.contains(&w) && !seen[w] {
                    seen[w] = true;
                    prev[w] = Some(v);
                    queue.push_back(w);
                }
            }
        }
        None
    }

    /// Rings (closed walks `a → b → … → a`, given without repeating `a`)
    /// that together use every edge of the component: for each edge not
    /// yet shown, the shortest ring through it.
    pub fn rings(&self, comp: &[usize]) -> Vec<Vec<usize>> {
        let within: BTreeSet<usize> = comp.iter().copied().collect();
        let mut covered: BTreeSet<(usize, usize)> = BTreeSet::new();
        let mut rings = Vec::new();
        for &a in comp {
            for &b in &self.adj[a] {
                if !within.contains(&b) || covered.contains(&(a, b)) {
                    continue;
                }
                let Some(back) = self.shortest_path(b, a, &within) else {
                    continue;
                };
                let mut ring = vec![a];
                ring.extend(back.iter().take(back.len() - 1).copied());
                for k in 0..ring.len() {
                    covered.insert((ring[k], ring[(k + 1) % ring.len()]));
                }
                rings.push(ring);
            }
        }
        rings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cycles_and_a_tail() {
        let g = Graph::new(6, [(0, 1), (1, 0), (2, 3), (3, 4), (4, 2), (4, 5)]);
        assert_eq!(g.cycles(), [vec![0, 1], vec![2, 3, 4]]);
    }

    #[test]
    fn acyclic() {
        let g = Graph::new(3, [(0, 1), (1, 2), (0, 2), (1, 1)]);
        assert!(g.cycles().is_empty());
    }

    #[test]
    fn rings_cover_every_edge() {
        let g = Graph::new(3, [(0, 1), (1, 0), (1, 2), (2, 1)]);
        let comp = &g.cycles()[0];
        assert_eq!(g.rings(comp), [vec![0, 1], vec![1, 2]]);
    }
}
