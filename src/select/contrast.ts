/**
 * Was a contrast agent given before this series? Decided from ContrastBolusAgent (0018,0010) (or the
 * Enhanced MR ContrastBolusAgentSequence) and from the series description. An explicit "pre"-contrast
 * description wins over a recorded agent (scanners often copy the agent onto every later series of the
 * exam card), a "post"-contrast description wins over an empty agent (agents are often not entered).
 */

/** Post-contrast tokens, matched case-insensitively on the description with '_' read as a space. */
export const POST_CONTRAST_PATTERN =
  /(\+\s*c\b)|(\bc\s*\+)|(\+\s*(gd|gad|contrast|mdc)\b)|\bpost\b|\bpost[-\s]?(gd|gad|contrast|c)\b|\bgd\b|\bgad\b|\bgado\w*|\bce\b|\bce[-\s]?t1|\bcontrast\b|\benhanced?\b|\bkm\b|\bmdc\b|\bgadovist\b|\bdotarem\b|\bmagnevist\b|\bmultihance\b|\bprohance\b|\bclariscan\b/i;

/** Pre-contrast tokens. */
export const PRE_CONTRAST_PATTERN = /\bpre[-\s]?(gd|gad|contrast|c)\b|\bpre\b|\bprecontrast\b|\bnative?\b|\bnon[-\s]?(contrast|enhanced)\b|\bw\/?o\b|\bwithout\b|\bplain\b|\bnativ\b/i;

const NO_AGENT = /^(none|no|n\/a|na|0|-|nil|null|unknown)?$/i;

/** Descriptions are compared with underscores as spaces, so `\b` works on Siemens names (t1_tse_tra). */
export function normalizeDescription(description: string | undefined): string {
  return (description ?? '').replace(/_/g, ' ').replace(/\s+/g, ' ').trim();
}

export interface ContrastEvidence {
  contrast: boolean;
  /** Why, in words (shown in selection explanations). */
  evidence: string;
}

export interface ContrastInputs {
  seriesDescription?: string;
  contrastBolusAgent?: string;
}

export function detectContrast(input: ContrastInputs): ContrastEvidence {
  const desc = normalizeDescription(input.seriesDescription);
  const agent = (input.contrastBolusAgent ?? '').trim();
  const hasAgent = !NO_AGENT.test(agent);
  const pre = PRE_CONTRAST_PATTERN.exec(desc);
  let post = POST_CONTRAST_PATTERN.exec(desc);
  // "non-enhanced", "pre-contrast": the post token inside a pre phrase does not count.
  if (post && pre && post.index >= pre.index && post.index < pre.index + pre[0].length) {
    const rest = desc.slice(pre.index + pre[0].length);
    post = POST_CONTRAST_PATTERN.exec(rest);
  }
  if (pre && !post) {
    return {
      contrast: false,
      evidence: hasAgent
        ? `description says pre-contrast ("${pre[0]}") although ContrastBolusAgent is "${agent}"`
        : `description says pre-contrast ("${pre[0]}")`,
    };
  }
  if (post) return { contrast: true, evidence: `description token "${post[0].trim()}"${hasAgent ? `, ContrastBolusAgent "${agent}"` : ''}` };
  if (hasAgent) return { contrast: true, evidence: `ContrastBolusAgent "${agent}"` };
  return { contrast: false, evidence: 'no ContrastBolusAgent and no contrast token in the description' };
}
