// npm run validate:heat -- [--cloud NAME] [--library DIR]
// Validates every template of heat-templates/ and every example pair against a real Heat
// (like openstack/heat-templates' tools/validate-templates); the logic is lib/heat/validate.ts.
import { runValidateTemplates } from '../../lib/heat/validate.js';

process.exitCode = await runValidateTemplates(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
