import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export const SECTORS = ['police', 'health', 'social', 'shelter', 'legal', 'other'] as const;
export type Sector = (typeof SECTORS)[number];

export type ServiceScope = 'province' | 'communes';

/**
 * An organisation that receives referrals. It serves a whole province, or a list of communes of one province
 * (organization_communes).
 */
@Entity({ name: 'organizations' })
export class Organization {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  /** What makes the name unique in its province (organizationNameKey); written with the name. */
  @Column({ name: 'name_key', type: 'text', nullable: true })
  nameKey!: string | null;

  @Column({ type: 'varchar', length: 10 })
  sector!: Sector;

  /** The province it serves, or the province of the communes it serves. */
  @Column({ name: 'province_code', type: 'varchar', length: 2 })
  provinceCode!: string;

  @Column({ name: 'service_scope', type: 'varchar', length: 8 })
  serviceScope!: ServiceScope;

  /** When an administrator retired it (closed, merged away), or null: a retired one takes no new referral. */
  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true })
  retiredAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
