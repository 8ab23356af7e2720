/**
 * Retrieval metrics of a contrastive model: for each query, where its true match ranks among all
 * candidates by cosine similarity.
 */

/**
 * The share of queries whose match is among the `k` most similar candidates, for each k.
 * `similarity` is [queries × candidates] row-major; `matches[q]` is query q's candidate. Ties count
 * against the query (a candidate as similar as the match ranks above it), so a constant model scores chance or less.
 */
export function recallAtK(similarity: Float32Array, queries: number, candidates: number, matches: ArrayLike<number>, ks: number[]): Record<string, number> {
  const hits = ks.map(() => 0);
  for (let q = 0; q < queries; q++) {
    const row = similarity.subarray(q * candidates, (q + 1) * candidates);
    const target = row[matches[q]!]!;
    let above = 0;
    for (let c = 0; c < candidates; c++) if (c !== matches[q] && row[c]! >= target) above++;
    ks.forEach((k, i) => {
      if (above < k) hits[i]! += 1;
    });
  }
  return Object.fromEntries(ks.map((k, i) => [`top${k}`, hits[i]! / Math.max(1, queries)]));
}

/** What recall@k a model that ranks at random scores: k of the candidates (at most all). */
export function chanceAtK(candidates: number, ks: number[]): Record<string, number> {
  return Object.fromEntries(ks.map((k) => [`top${k}`, Math.min(1, k / Math.max(1, candidates))]));
}

/** The transpose of a row-major [rows × columns] matrix. */
export function transposed(matrix: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(matrix.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) out[c * rows + r] = matrix[r * columns + c]!;
  return out;
}

/** Accuracy of labelling each query with its most similar class (similarity [queries × classes]). */
export function nearestClassAccuracy(similarity: Float32Array, classes: number, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let q = 0; q < labels.length; q++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (similarity[q * classes + c]! > similarity[q * classes + best]!) best = c;
    if (best === labels[q]) correct++;
  }
  return correct / Math.max(1, labels.length);
}
