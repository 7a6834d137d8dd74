/** Plain-text rendering of a control for `engram-audit controls show`: mapping, parameters, and each check in full. */
import { NIST_AI_RMF_SUBCATEGORIES } from './nist-ai-rmf.js';
import type { Condition, Control, LeafCondition } from './types.js';

function value(v: unknown): string {
  if (v && typeof v === 'object' && !Array.isArray(v) && ('param' in (v as object) || 'derived' in (v as object))) {
    const { param, derived, path } = v as { param?: string; derived?: string; path?: string };
    const base = param !== undefined ? `{param ${param}}` : path ?? '@';
    return derived ? `${derived}(${base})` : base;
  }
  if (Array.isArray(v)) return `[${v.map((x) => String(x)).join(', ')}]`;
  return JSON.stringify(v);
}

/** One line per node, indented: a readable form of the condition. */
export function describeCondition(c: Condition, indent = '    '): string[] {
  const next = `${indent}  `;
  if ('all' in c) return [`${indent}all of:`, ...c.all.flatMap((x) => describeCondition(x, next))];
  if ('any' in c) return [`${indent}any of:`, ...c.any.flatMap((x) => describeCondition(x, next))];
  if ('not' in c) return [`${indent}not:`, ...describeCondition(c.not, next)];
  for (const q of ['some', 'every', 'none'] as const) {
    if (q in c) {
      const body = (c as Record<string, { path: string; where?: Condition }>)[q] as { path: string; where?: Condition };
      return [`${indent}${q} element of ${body.path}${body.where ? ' where:' : ''}`, ...(body.where ? describeCondition(body.where, next) : [])];
    }
  }
  if ('count' in c) {
    return [`${indent}count of ${c.count.path}${c.count.where ? ' matching' : ''} ${c.count.op} ${value(c.count.value)}${c.count.where ? ':' : ''}`, ...(c.count.where ? describeCondition(c.count.where, next) : [])];
  }
  if ('related' in c) {
    const r = c.related;
    return [`${indent}${r.match ?? 'some'} child ${r.type}${r.name ? ` named ${r.name}` : ''}${r.where ? ' where:' : ''} (missing collection = error)`, ...(r.where ? describeCondition(r.where, next) : [])];
  }
  if ('lookup' in c) {
    const l = c.lookup;
    return [
      `${indent}the ${l.type} whose ${l.to.path}${l.to.transform === 'host' ? ' host' : ''} matches ${l.from.path}${l.from.transform === 'host' ? ' host' : ''}${l.where ? ', where:' : ''}`,
      ...(l.where ? describeCondition(l.where, next) : []),
    ];
  }
  const leaf = c as LeafCondition;
  const subject = leaf.param !== undefined ? `parameter ${leaf.param}` : leaf.derived ? `${leaf.derived}(${leaf.path ?? ''})` : leaf.path;
  const v = ['exists', 'absent', 'empty', 'not_empty'].includes(leaf.op) ? '' : ` ${value(leaf.value)}`;
  const d = leaf.default !== undefined ? ` (absent = Azure default ${JSON.stringify(leaf.default)})` : '';
  return [`${indent}${subject} ${leaf.op}${v}${d}`];
}

/** The plain-text description `controls show ID` prints. */
export function describeControl(control: Control): string {
  const out: string[] = [];
  out.push(`${control.id}  ${control.title}`, '');
  out.push(control.objective.trim());
  if (control.description) out.push('', control.description.trim());
  out.push('', 'NIST AI RMF:');
  for (const id of control.nist_ai_rmf) out.push(`  ${id}  ${NIST_AI_RMF_SUBCATEGORIES[id] ?? ''}`.trimEnd());
  out.push(`NIST SP 800-53: ${control.sp800_53.join(', ')}`);
  const params = Object.entries(control.parameters ?? {});
  if (params.length) {
    out.push('', 'Parameters:');
    for (const [name, p] of params) out.push(`  ${name} = ${JSON.stringify(p.default)}${p.by_environment ? ` (by environment: ${JSON.stringify(p.by_environment)})` : ''}${p.description ? `  ${p.description}` : ''}`);
  }
  out.push('', `Checks (${control.checks.length}):`);
  for (const check of control.checks) {
    out.push('', `- ${check.id} [${check.severity}] ${check.title}`);
    out.push(`  resource type: ${check.resource_type}`);
    out.push(`  applies to: ${check.applicability?.environments?.join(', ') ?? 'all environments'}`);
    if (check.nist_ai_rmf || check.sp800_53) out.push(`  maps to: ${[...(check.nist_ai_rmf ?? []), ...(check.sp800_53 ?? [])].join(', ')}`);
    for (const [name, p] of Object.entries(check.parameters ?? {})) out.push(`  parameter ${name} = ${JSON.stringify(p.default)}${p.by_environment ? ` ${JSON.stringify(p.by_environment)}` : ''}`);
    if (check.select) out.push('  targets only documents where:', ...describeCondition(check.select));
    if (check.applies_if) out.push('  applies only where (else not_applicable):', ...describeCondition(check.applies_if));
    out.push('  condition:', ...describeCondition(check.condition));
    if (check.unsatisfied_status === 'manual') out.push('  unsatisfied: manual (awaits a human; never pass)');
    if (check.if_no_target) out.push(`  with no target: ${check.if_no_target.status} for ${check.if_no_target.resource_id}`);
    if (check.policy_definition_id) out.push(`  Azure Policy: ${check.policy_definition_id}`);
    else if (check.policy_note) out.push(`  Azure Policy: ${check.policy_note}`);
    out.push(`  re-perform: ${check.reperform.request ?? check.reperform.command} -> ${check.reperform.json_path}`);
    if (check.reperform.resource_graph) out.push(`  Resource Graph: ${check.reperform.resource_graph}`);
    out.push(`  remediation (az): ${check.remediation.cli.trim().replace(/\n/g, '\n    ')}`);
    out.push(`  remediation (Bicep): ${check.remediation.bicep.trim().replace(/\n/g, '\n    ')}`);
  }
  return `${out.join('\n')}\n`;
}
