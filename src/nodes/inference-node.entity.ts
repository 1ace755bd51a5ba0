import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { ModelClass } from '../markets/model-class.entity.js';
import { Participant } from '../participants/participant.entity.js';

export const NODE_STATUSES = ['enabled', 'disabled'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

/**
 * A provider's inference server: where buyers send requests, where its token counters are
 * scraped, the key its usage batches are signed with, and the capacity it declares. The public
 * key never changes (batches already verified with it must stay attributable); a new key is a
 * new node.
 */
@Entity('inference_nodes')
@Index('inference_nodes_provider_idx', ['providerId', 'createdAt'])
@Index('inference_nodes_capacity_idx', ['providerId', 'modelClassId'], { where: `status = 'enabled'` })
@Index('inference_nodes_public_key_key', ['publicKey'], { unique: true })
@Check('inference_nodes_status_known', `status IN ('enabled','disabled')`)
@Check('inference_nodes_capacity_positive', 'tokens_per_second > 0')
@Check('inference_nodes_urls_http', `base_url ~ '^https?://' AND metrics_url ~ '^https?://'`)
export class InferenceNode {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid', { name: 'provider_id' })
  providerId: string;

  @ManyToOne(() => Participant, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'provider_id' })
  provider?: Participant;

  @Column('text', { name: 'model_class_id' })
  modelClassId: string;

  @ManyToOne(() => ModelClass, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'model_class_id' })
  modelClass?: ModelClass;

  @Column('text', { nullable: true })
  name: string | null;

  /** Base URL of its OpenAI-compatible API. */
  @Column('text', { name: 'base_url' })
  baseUrl: string;

  /** Its Prometheus metrics (vllm:prompt_tokens_total, vllm:generation_tokens_total). */
  @Column('text', { name: 'metrics_url' })
  metricsUrl: string;

  /** Ed25519, base64 of the SPKI DER: one form, so the unique index catches the same key sent as PEM. */
  @Column('text', { name: 'public_key' })
  publicKey: string;

  /** Declared capacity: what the provider says the node serves, summed over concurrent requests. */
  @Column('integer', { name: 'tokens_per_second' })
  tokensPerSecond: number;

  @Column('text', { default: 'enabled' })
  status: NodeStatus;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
