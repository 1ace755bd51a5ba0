import { Check, Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** What a token is of: a model family, its tokenizer, how prompt tokens count, and its SLA. */
@Entity('model_classes')
@Check('model_classes_id_slug', `id ~ '^[a-z0-9][a-z0-9.-]{0,62}[a-z0-9]$'`)
@Check('model_classes_input_weight_range', 'input_weight_bps BETWEEN 0 AND 10000')
@Check('model_classes_sla_positive', 'min_tokens_per_second > 0 AND max_ttft_ms > 0')
export class ModelClass {
  /** A slug such as `llama-3.1-70b-instruct`; upper-cased, it is the stem of its symbols. */
  @PrimaryColumn('text')
  id: string;

  /** The tokenizer that counts this model's tokens, e.g. `tiktoken:o200k_base` or `llama3`. */
  @Column('text')
  tokenizer: string;

  /** A prompt token counts this many basis points of a completion token. */
  @Column('integer', { name: 'input_weight_bps' })
  inputWeightBps: number;

  /** SLA floor per request. */
  @Column('integer', { name: 'min_tokens_per_second' })
  minTokensPerSecond: number;

  /** SLA: time to first token at p95. */
  @Column('integer', { name: 'max_ttft_ms' })
  maxTtftMs: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
