package lakebase

// nearestKey returns the lakebase key that key is a likely misspelling of, or
// "" when it resembles none. A misspelt lakebase key must be an error: passed
// on as a runtime parameter it would only fail later, at the server, after a
// credential had been minted.
func nearestKey(key string) string {
	best, bestDist := "", 3
	for _, k := range dsnKeys {
		limit := 2
		if len(k.name) <= 4 {
			limit = 1
		}
		if d := editDistance(key, k.name); d <= limit && d < bestDist {
			best, bestDist = k.name, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours each cost one.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // far apart; keeps the work bounded for hostile input
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
