/**
 * The graph of an adaptively built model (adaptive.ts): the columns are nodes, every measured
 * table joins its columns, and the model is a distribution that factors over the maximal cliques
 * of a chordal supergraph (Private-PGM's junction tree; McKenna, Sheldon, Miklau, ICML 2019).
 *
 * - `triangulate`: greedy minimum-fill elimination (the usual heuristic; Kjærulff 1990) adds the
 *   edges that make the graph chordal;
 * - `chordalNetwork`: maximum cardinality search (Tarjan, Yannakakis 1984) on a chordal graph
 *   visits the nodes so that each node's already visited neighbours form a clique: those are its
 *   parents in a Bayesian network whose families are the graph's cliques, the form junction.ts
 *   and the sampler take (order, parents).
 *
 * Deterministic: ties break by the lowest index.
 */
import type { Network } from './select.ts';

export type Graph = boolean[][];

export function emptyGraph(d: number): Graph {
  return Array.from({ length: d }, () => new Array<boolean>(d).fill(false));
}

/** A copy of `g` with every pair of `columns` joined. */
export function withClique(g: Graph, columns: readonly number[]): Graph {
  const out = g.map((row) => [...row]);
  for (const a of columns) for (const b of columns) if (a !== b) out[a]![b] = true;
  return out;
}

/** A chordal supergraph of `g` by greedy minimum-fill elimination. */
export function triangulate(g: Graph): Graph {
  const d = g.length;
  const out = g.map((row) => [...row]);
  const work = g.map((row) => [...row]);
  const gone = new Array<boolean>(d).fill(false);
  for (let step = 0; step < d; step++) {
    let pick = -1;
    let pickFill = Infinity;
    for (let v = 0; v < d; v++) {
      if (gone[v]) continue;
      const nb = neighbours(work, v, gone);
      let fill = 0;
      for (let i = 0; i < nb.length; i++) for (let j = i + 1; j < nb.length; j++) if (!work[nb[i]!]![nb[j]!]) fill++;
      if (fill < pickFill) [pick, pickFill] = [v, fill];
    }
    const nb = neighbours(work, pick, gone);
    for (const a of nb) {
      for (const b of nb) {
        if (a === b) continue;
        work[a]![b] = true;
        out[a]![b] = true;
      }
    }
    gone[pick] = true;
  }
  return out;
}

function neighbours(g: Graph, v: number, gone: boolean[]): number[] {
  const out: number[] = [];
  g[v]!.forEach((e, u) => {
    if (e && !gone[u]) out.push(u);
  });
  return out;
}

/** Maximum cardinality search on a chordal graph: visiting order, and each node's visited neighbours as its parents. */
export function chordalNetwork(g: Graph): Network {
  const d = g.length;
  const weight = new Array<number>(d).fill(0);
  const seen = new Array<boolean>(d).fill(false);
  const order: number[] = [];
  const parents: number[][] = Array.from({ length: d }, () => []);
  for (let step = 0; step < d; step++) {
    let pick = -1;
    for (let v = 0; v < d; v++) if (!seen[v] && (pick < 0 || weight[v]! > weight[pick]!)) pick = v;
    parents[pick] = order.filter((u) => g[pick]![u]).sort((a, b) => a - b);
    seen[pick] = true;
    order.push(pick);
    for (let u = 0; u < d; u++) if (g[pick]![u] && !seen[u]) weight[u] = weight[u]! + 1;
  }
  return { order, parents };
}

/** Is `g` chordal? (Each node's visited neighbours under maximum cardinality search form a clique.) */
export function isChordal(g: Graph): boolean {
  const net = chordalNetwork(g);
  return net.parents.every((pa) => pa.every((a) => pa.every((b) => a === b || g[a]![b])));
}

/** Largest clique size and the total cells of the families (each family a table over its columns). */
export function modelSize(net: Network, sizes: readonly number[]): { maxClique: number; cells: number } {
  let maxClique = 0;
  let cells = 0;
  net.order.forEach((v) => {
    const fam = [...net.parents[v]!, v];
    maxClique = Math.max(maxClique, fam.length);
    cells += fam.reduce((a, x) => a * sizes[x]!, 1);
  });
  return { maxClique, cells };
}
