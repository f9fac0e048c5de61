import { HttpException, HttpStatus } from '@nestjs/common';

/** One problem with one input field: `field` is a dotted path such as `trainingConfig.epochs`. */
export interface FieldIssue {
  field: string;
  message: string;
}

/** The JSON body of every error the API returns. */
export interface ApiErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details: FieldIssue[];
}

/** An HTTP error whose message names the offending fields, e.g. "trainingConfig.epochs: Too big". */
export class ApiError extends HttpException {
  constructor(status: HttpStatus, message: string, details: FieldIssue[] = []) {
    super({ statusCode: status, error: HttpStatus[status] ?? 'Error', message, details } satisfies ApiErrorBody, status);
  }

  static fields(status: HttpStatus, issues: FieldIssue[]): ApiError {
    return new ApiError(status, issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues);
  }
}
