import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export type AdminUnitLevel = 'province' | 'commune';
/** Province-level: tinh / thanh_pho (municipality); commune-level: phuong (ward), xa (commune), dac_khu (special zone). */
export type AdminUnitKind = 'tinh' | 'thanh_pho' | 'phuong' | 'xa' | 'dac_khu';

/** An official administrative unit of the two-tier map in force since 1 July 2025 (Decision 19/2025/QĐ-TTg). */
@Entity({ name: 'admin_units' })
export class AdminUnit {
  /** Official code: 2 digits for a province, 5 digits for a commune-level unit. */
  @PrimaryColumn({ type: 'varchar', length: 5 })
  code!: string;

  @Column({ type: 'varchar', length: 8 })
  level!: AdminUnitLevel;

  @Column({ type: 'varchar', length: 10 })
  kind!: AdminUnitKind;

  /** The province of a commune-level unit; null for a province. */
  @Column({ name: 'province_code', type: 'varchar', length: 2, nullable: true })
  provinceCode!: string | null;

  @Column({ name: 'name_vi', type: 'text' })
  nameVi!: string;

  @Column({ name: 'name_en', type: 'text' })
  nameEn!: string;

  @Column({ name: 'full_name_vi', type: 'text' })
  fullNameVi!: string;

  @Column({ name: 'full_name_en', type: 'text' })
  fullNameEn!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
