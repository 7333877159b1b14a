// IP address arithmetic the generator needs: does a preserved fixed IP fit the subnet it will
// land in. Pure; IPv4 and IPv6 (with `::` and an embedded IPv4 tail).

/** The address as a number and its family, or undefined when it is not an IP address. */
export function parseIp(text: string): { family: 4 | 6; value: bigint } | undefined {
  const v4 = parseV4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseV6(text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(p));
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseV4(p);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) return undefined;
  const all = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** True when `ip` lies inside `cidr` (same family). False for anything unparsable. */
export function ipInCidr(ip: string, cidr: string): boolean {
  const [base, lenText] = cidr.split('/');
  const addr = parseIp(ip);
  const net = base === undefined ? undefined : parseIp(base);
  if (!addr || !net || addr.family !== net.family || lenText === undefined || !/^\d{1,3}$/.test(lenText)) return false;
  const bits = addr.family === 4 ? 32n : 128n;
  const len = BigInt(Number(lenText));
  if (len > bits) return false;
  const shift = bits - len;
  return addr.value >> shift === net.value >> shift;
}
