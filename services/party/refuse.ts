/** A refusal whose message is safe to send to the aggregator (it names the policy or check that failed). */
export class Refuse extends Error {}
