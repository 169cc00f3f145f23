import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import type { AdminUnitKind, AdminUnitLevel } from '../admin-unit.entity';

export class AdminUnitQuery {
  @ApiPropertyOptional({
    example: '01',
    description: 'A 2-digit province code: list its communes. Without it: list the provinces.',
  })
  @IsOptional()
  @Matches(/^\d{2}$/)
  province?: string;
}

export class AdminUnitView {
  @ApiProperty({ example: '00145', description: '2 digits for a province, 5 for a commune-level unit' })
  code!: string;
  @ApiProperty({ enum: ['province', 'commune'] }) level!: AdminUnitLevel;
  @ApiProperty({
    enum: ['tinh', 'thanh_pho', 'phuong', 'xa', 'dac_khu'],
    description:
      'tinh (province), thanh_pho (municipality), phuong (ward), xa (commune), dac_khu (special zone)',
  })
  kind!: AdminUnitKind;
  @ApiProperty({ nullable: true, type: String, example: '01' }) provinceCode!: string | null;
  @ApiProperty({ example: 'Long Biên' }) nameVi!: string;
  @ApiProperty({ example: 'Long Bien' }) nameEn!: string;
  @ApiProperty({ example: 'Phường Long Biên' }) fullNameVi!: string;
  @ApiProperty({ example: 'Long Bien Ward' }) fullNameEn!: string;
}

export class AdminUnitList {
  @ApiProperty({ type: [AdminUnitView] }) items!: AdminUnitView[];
}
