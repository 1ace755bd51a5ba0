// The build's second step: files tsc does not emit (the ops console's templates and assets) go
// next to the compiled code, so dist/ runs on its own (the Docker image copies only dist/).
import { cpSync } from 'node:fs';

for (const dir of ['src/ops/views', 'src/ops/assets']) {
  cpSync(dir, `dist/${dir}`, { recursive: true });
}
