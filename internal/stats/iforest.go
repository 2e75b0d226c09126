package stats

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// IForestOptions configures IsolationForest. Zero values select the
// defaults of Liu, Ting and Zhou (2008): 200 trees of 256-row subsamples.
type IForestOptions struct {
	Trees  int
	Sample int
	Seed   uint64
}

type iforestNode struct {
	feature     int // -1 marks a leaf
	split       float64
	left, right int32
	size        int // rows that reached a leaf; used for the c(size) adjustment
}

// IsolationForest scores rows by the isolation forest of Liu, Ting and Zhou
// (ICDM 2008): random axis-parallel splits isolate anomalies in fewer steps, so
// the score s = 2^(-E[h(x)]/c(psi)) is near 1 for anomalies and below 0.5 for
// normal rows. Higher is more anomalous. Trees are grown on subsamples without
// replacement, to height ceil(log2 psi), and split only features that vary in
// the node. The result depends only on X and opt.Seed: every tree draws from
// its own generator seeded by (Seed, tree index), so the goroutine schedule
// cannot change it.
func IsolationForest(X *Matrix, opt IForestOptions) []float64 {
	n := X.Rows
	scores := make([]float64, n)
	if n == 0 || X.Validate() != nil {
		return scores
	}
	trees := opt.Trees
	if trees <= 0 {
		trees = 200
	}
	psi := opt.Sample
	if psi <= 0 {
		psi = 256
	}
	if psi > n {
		psi = n
	}
	maxDepth := int(math.Ceil(math.Log2(math.Max(float64(psi), 2))))
	forest := make([][]iforestNode, trees)

	workers := min(runtime.GOMAXPROCS(0), trees)
	var wg sync.WaitGroup
	next := make(chan int, trees)
	for t := 0; t < trees; t++ {
		next <- t
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				rng := rand.New(rand.NewPCG(opt.Seed, uint64(t)*0x9e3779b97f4a7c15+1))
				idx := odSample(rng, n, psi)
				b := iforestBuilder{X: X, rng: rng, maxDepth: maxDepth}
				b.grow(idx, 0)
				forest[t] = b.nodes
			}
		}()
	}
	wg.Wait()

	cpsi := iforestC(psi)
	// Rows are scored in parallel chunks; each row's sum runs over trees in
	// index order, so the floating-point result is schedule-independent.
	chunk := (n + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				x := X.Row(i)
				var h float64
				for _, tree := range forest {
					h += iforestPath(tree, x)
				}
				scores[i] = math.Pow(2, -h/float64(trees)/cpsi)
			}
		}(lo, hi)
	}
	wg.Wait()
	return scores
}

type iforestBuilder struct {
	X        *Matrix
	rng      *rand.Rand
	maxDepth int
	nodes    []iforestNode
	feats    []int
}

func (b *iforestBuilder) grow(idx []int, depth int) int32 {
	id := int32(len(b.nodes))
	b.nodes = append(b.nodes, iforestNode{feature: -1, size: len(idx)})
	if depth >= b.maxDepth || len(idx) <= 1 {
		return id
	}
	p := b.X.Cols
	// Draw features in random order until one varies in this node; the
	// range of the others is never computed, so wide data stays cheap and
	// constant columns cannot waste depth.
	// b.feats is kept as a permutation of the features across nodes; a
	// partial Fisher–Yates draw from any permutation is uniform, so it
	// needs no reset.
	if len(b.feats) != p {
		b.feats = make([]int, p)
		for j := range b.feats {
			b.feats[j] = j
		}
	}
	f := -1
	var lo, hi float64
	for tried := 0; tried < p; tried++ {
		k := tried + b.rng.IntN(p-tried)
		b.feats[tried], b.feats[k] = b.feats[k], b.feats[tried]
		j := b.feats[tried]
		lo, hi = b.X.Data[idx[0]*p+j], b.X.Data[idx[0]*p+j]
		for _, r := range idx[1:] {
			v := b.X.Data[r*p+j]
			if v < lo {
				lo = v
			} else if v > hi {
				hi = v
			}
		}
		if hi > lo {
			f = j
			break
		}
	}
	if f < 0 {
		return id
	}
	split := lo + b.rng.Float64()*(hi-lo)
	// Partition in place: rows < split go left.
	i, j := 0, len(idx)-1
	for i <= j {
		if b.X.Data[idx[i]*p+f] < split {
			i++
		} else {
			idx[i], idx[j] = idx[j], idx[i]
			j--
		}
	}
	if i == 0 || i == len(idx) {
		// Only possible when split == lo by float rounding; stop here.
		return id
	}
	l := b.grow(idx[:i], depth+1)
	r := b.grow(idx[i:], depth+1)
	b.nodes[id] = iforestNode{feature: f, split: split, left: l, right: r, size: len(idx)}
	return id
}

func iforestPath(tree []iforestNode, x []float64) float64 {
	node := 0
	depth := 0.0
	for tree[node].feature >= 0 {
		if x[tree[node].feature] < tree[node].split {
			node = int(tree[node].left)
		} else {
			node = int(tree[node].right)
		}
		depth++
	}
	return depth + iforestC(tree[node].size)
}

// iforestC is the average path length of an unsuccessful BST search over
// n points, c(n) = 2H(n-1) - 2(n-1)/n, used to normalise path lengths.
func iforestC(n int) float64 {
	if n <= 1 {
		return 0
	}
	if n == 2 {
		return 1
	}
	const euler = 0.5772156649015329
	m := float64(n - 1)
	return 2*(math.Log(m)+euler) - 2*m/float64(n)
}

// odSample draws k distinct indices from [0, n) by a partial Fisher–Yates.
func odSample(rng *rand.Rand, n, k int) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	for i := 0; i < k; i++ {
		j := i + rng.IntN(n-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm[:k:k]
}
